"""WeChat mini-program login: exchange a ``wx.login()`` code for an openid (``jscode2session``)."""
import httpx

from .errors import WechatCodeInvalidError, WechatUnavailableError


async def exchange_code(client: httpx.AsyncClient, appid: str, secret: str, code: str) -> str:
    try:
        r = await client.get("/sns/jscode2session", params={
            "appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"})
        data = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise WechatUnavailableError() from exc
    if r.status_code != 200:
        raise WechatUnavailableError(details={"status": r.status_code})
    errcode = int(data.get("errcode") or 0)
    if errcode == -1:  # WeChat: system busy
        raise WechatUnavailableError(details={"errcode": errcode})
    if errcode != 0 or not data.get("openid"):
        raise WechatCodeInvalidError(details={"errcode": errcode})
    return str(data["openid"])
