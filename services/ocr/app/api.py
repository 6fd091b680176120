from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from zhenxi_common.errors import error_responses
from zhenxi_common.identity import CurrentUser

from .errors import ALL_ERRORS, FileTooLargeError
from .fhir import to_bundle
from .schemas import Caller, LabReport, ServiceInfo

router = APIRouter(prefix="/v1", tags=["ocr"])
# `format=fhir` answers as application/fhir+json: a collection Bundle of Observations (FHIR R4), described by its
# outline here; the resources themselves follow the FHIR specification
FHIR_BUNDLE_SCHEMA = {
    "type": "object", "required": ["resourceType", "type", "entry"],
    "properties": {"resourceType": {"type": "string", "enum": ["Bundle"]},
                   "type": {"type": "string", "enum": ["collection"]},
                   "entry": {"type": "array", "items": {"type": "object", "properties": {
                       "fullUrl": {"type": "string"},
                       "resource": {"type": "object", "description": "an Observation (FHIR R4)"}}}}},
}


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


@router.post("/lab-reports:parse", response_model=LabReport, responses={
    **error_responses(*ALL_ERRORS),
    200: {"description": "The parsed report (`format=json`) or a FHIR R4 Bundle of Observations (`format=fhir`). "
                         "A photo with no recognisable indicators gives an empty list and a "
                         "`no_indicators_found` warning.",
          "content": {"application/fhir+json": {"schema": FHIR_BUNDLE_SCHEMA}}},
})
async def parse_lab_report(
    request: Request,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="Photo or scan: JPEG, PNG, WebP, HEIC or PDF")],
    format: Annotated[Literal["json", "fhir"], Query(description="json (default) or fhir")] = "json",
):
    """Parse a photographed or scanned lab report into structured indicators."""
    settings = request.app.state.settings
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise FileTooLargeError(details={"max_bytes": settings.max_upload_bytes})
    parser = request.app.state.ocr_parser
    # CPU-bound (ONNX Runtime, OpenCV): off the event loop, one at a time per process.
    report = await anyio.to_thread.run_sync(parser.parse, data, file.filename, file.content_type,
                                            limiter=request.app.state.ocr_limiter)
    if format == "fhir":
        return JSONResponse(to_bundle(report), media_type="application/fhir+json")
    return report
