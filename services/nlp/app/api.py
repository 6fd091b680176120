from fastapi import APIRouter, Request

from zhenxi_common.identity import CurrentUser

from .schemas import Caller, ServiceInfo

router = APIRouter(prefix="/v1", tags=["nlp"])


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))
