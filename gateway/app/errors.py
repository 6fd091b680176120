from zhenxi_common.errors import ConflictError, NotFoundError, RateLimitedError, ServiceError, UnauthorizedError


class UsernameTakenError(ConflictError):
    code = "username_taken"
    default_message = "That username is already registered."


class InvalidCredentialsError(UnauthorizedError):
    code = "invalid_credentials"
    default_message = "Wrong username or password."


class AuthRequiredError(UnauthorizedError):
    code = "auth_required"
    default_message = "Log in first: send a Bearer access token or an X-API-Key."


class TokenRevokedError(UnauthorizedError):
    code = "token_revoked"
    default_message = "This token has been revoked; log in again."


class RefreshTokenReusedError(UnauthorizedError):
    code = "refresh_token_reused"
    default_message = "This refresh token was already used; the session has been revoked for safety."


class ApiKeyInvalidError(UnauthorizedError):
    code = "api_key_invalid"
    default_message = "The API key is not valid."


class ScopeMissingError(ServiceError):
    code = "scope_missing"
    status = 403
    default_message = "This API key is not allowed to call that service."


class UnknownServiceError(NotFoundError):
    code = "unknown_service"
    default_message = "There is no such service."


class UserNotFoundError(NotFoundError):
    code = "user_not_found"
    default_message = "No such user."


class NotIntegratorError(ServiceError):
    code = "not_integrator"
    status = 422
    default_message = "API keys can only be issued to accounts with the integrator role."


class WechatCodeInvalidError(UnauthorizedError):
    code = "wechat_code_invalid"
    default_message = "WeChat did not accept this login code; get a new one with wx.login()."


class WechatUnavailableError(ServiceError):
    code = "wechat_unavailable"
    status = 502
    default_message = "WeChat's login service could not be reached; try again."


class UnknownScopeError(ServiceError):
    code = "unknown_scope"
    status = 422
    default_message = "Scopes must name services behind the gateway."


class LoginBackoffError(RateLimitedError):
    code = "login_backoff"
    default_message = "Too many failed logins for this account; wait a moment (see Retry-After) and try again."


class MethodNotAllowedError(ServiceError):
    code = "method_not_allowed"
    status = 405
    default_message = "This path does not take that method."
