"""What the gateway itself can answer with. Messages are Chinese first, then English, in one string, like every
service's (``"中文。 English."``); the code is the contract, the message is for people."""
from zhenxi_common.errors import ConflictError, NotFoundError, RateLimitedError, ServiceError, UnauthorizedError


class UsernameTakenError(ConflictError):
    code = "username_taken"
    default_message = "该用户名已被注册。 That username is already registered."


class InvalidCredentialsError(UnauthorizedError):
    code = "invalid_credentials"
    default_message = "用户名或密码错误。 Wrong username or password."


class AuthRequiredError(UnauthorizedError):
    code = "auth_required"
    default_message = ("请先登录：发送 Bearer 访问令牌或 X-API-Key。 "
                       "Log in first: send a Bearer access token or an X-API-Key.")


class TokenRevokedError(UnauthorizedError):
    code = "token_revoked"
    default_message = "该令牌已被撤销，请重新登录。 This token has been revoked; log in again."


class RefreshTokenReusedError(UnauthorizedError):
    code = "refresh_token_reused"
    default_message = ("该刷新令牌已被使用过，为安全起见，本次会话已被撤销。 "
                       "This refresh token was already used; the session has been revoked for safety.")


class ApiKeyInvalidError(UnauthorizedError):
    code = "api_key_invalid"
    default_message = "API 密钥无效。 The API key is not valid."


class ScopeMissingError(ServiceError):
    code = "scope_missing"
    status = 403
    default_message = "该 API 密钥无权调用此服务。 This API key is not allowed to call that service."


class UnknownServiceError(NotFoundError):
    code = "unknown_service"
    default_message = "没有这个服务。 There is no such service."


class UserNotFoundError(NotFoundError):
    code = "user_not_found"
    default_message = "没有这个用户。 No such user."


class NotIntegratorError(ServiceError):
    code = "not_integrator"
    status = 422
    default_message = ("只能为集成方角色的账号签发 API 密钥。 "
                       "API keys can only be issued to accounts with the integrator role.")


class WechatCodeInvalidError(UnauthorizedError):
    code = "wechat_code_invalid"
    default_message = ("微信未接受此登录码，请用 wx.login() 重新获取。 "
                       "WeChat did not accept this login code; get a new one with wx.login().")


class WechatUnavailableError(ServiceError):
    code = "wechat_unavailable"
    status = 502
    default_message = "无法连接微信登录服务，请重试。 WeChat's login service could not be reached; try again."


class UnknownScopeError(ServiceError):
    code = "unknown_scope"
    status = 422
    default_message = "权限范围必须是网关后的服务名。 Scopes must name services behind the gateway."


class LoginBackoffError(RateLimitedError):
    code = "login_backoff"
    default_message = ("该账号登录失败次数过多，请稍候（见 Retry-After）再试。 "
                       "Too many failed logins for this account; wait a moment (see Retry-After) and try again.")


class TooManyInFlightError(RateLimitedError):
    """The caller already has as many heavy requests (OCR, X-ray) open as it may; one must finish first."""

    code = "too_many_in_flight"
    default_message = ("您同时进行的识别请求过多，请等前面的完成后再试。 "
                       "Too many of your requests are still being processed; wait for one to finish and try again.")


class MethodNotAllowedError(ServiceError):
    code = "method_not_allowed"
    status = 405
    default_message = "此路径不支持该请求方法。 This path does not take that method."
