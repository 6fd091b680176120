"""Routes only: parse, call the analysis service / registry / jobs, shape the response."""
from __future__ import annotations

import json
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from zhenxi_common.errors import ForbiddenError, error_responses
from zhenxi_common.identity import CurrentUser, Identity, require_role
from zhenxi_common.db import DbSession

from . import jobs, registry, repository
from .errors import (DicomInvalidError, FileTooLargeError, ImageTooLargeError, ImageTooSmallError,
                     ImageUnreadableError, ModelUnavailableError, NotChestXrayError, UnsupportedMediaTypeError)
from .models import Analysis, ModelVersion, TrainingJob
from .service import AnalysisService, Upload
from .schemas import (AnalysisList, AnalysisOut, AnalysisSummary, Caller, ModelList, ModelVersionOut,
                      PromotionOut, SelftestOut, ServedModels, ServiceInfo, TrainingJobList, TrainingJobOut)

router = APIRouter(prefix="/v1", tags=["xray"])

Admin = Annotated[Identity, Depends(require_role("admin"))]
Publisher = Annotated[Identity, Depends(require_role("admin", "integrator"))]


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


# ---------------------------------------------------------------------------------------------------- analyses
def get_analyses(request: Request) -> AnalysisService:
    return request.app.state.analyses


Analyses = Annotated[AnalysisService, Depends(get_analyses)]


def _summary(row: Analysis) -> AnalysisSummary:
    return AnalysisSummary(analysis_id=str(row.id), created_at=row.created_at, model_version=row.model_version,
                           image=row.image, gate=row.gate, abnormal=row.abnormal, findings=row.findings,
                           detections=row.detections, measurements=row.measurements,
                           classifications=row.classifications)


async def _read_upload(file: UploadFile, limit: int) -> Upload:
    """The upload's bytes, never more than ``limit`` + 1 of them in memory."""
    if file.size is not None and file.size > limit:
        raise FileTooLargeError(details={"bytes": file.size, "max_bytes": limit})
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(details={"max_bytes": limit})
    return Upload(data, file.filename, file.content_type)


@router.post("/xray/analyses", response_model=AnalysisOut, status_code=201,
             responses=error_responses(UnsupportedMediaTypeError, FileTooLargeError, ImageTooLargeError,
                                       ImageUnreadableError, ImageTooSmallError, DicomInvalidError,
                                       NotChestXrayError, ModelUnavailableError))
async def analyze(request: Request, session: DbSession, user: CurrentUser, analyses: Analyses,
                  file: Annotated[UploadFile, File(description="PNG, JPEG or DICOM chest X-ray")]) -> AnalysisOut:
    """Analyse one frontal chest X-ray: findings, lesion boxes, measurements, heatmaps and lung/heart masks."""
    upload = await _read_upload(file, request.app.state.settings.max_image_bytes)
    done = await analyses.analyze(session, user, upload)
    return AnalysisOut(**_summary(done.analysis).model_dump(), heatmaps=done.heatmaps, masks=done.masks,
                       timings_ms=done.timings_ms)


@router.get("/xray/analyses", response_model=AnalysisList)
async def list_analyses(session: DbSession, user: CurrentUser,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AnalysisList:
    """The caller's own past analyses (results only; images are never kept)."""
    return AnalysisList(items=[_summary(r) for r in await repository.list_analyses(session, user.user_id, limit)])


@router.get("/xray/analyses/{analysis_id}", response_model=AnalysisSummary,
            responses=error_responses(repository.AnalysisNotFoundError))
async def get_analysis(analysis_id: str, session: DbSession, user: CurrentUser) -> AnalysisSummary:
    """One of the caller's own analyses."""
    return _summary(await repository.get_analysis(session, analysis_id, user.user_id))


@router.get("/selftest", response_model=SelftestOut, responses=error_responses(ModelUnavailableError))
async def selftest(request: Request, user: CurrentUser, analyses: Analyses) -> SelftestOut:
    """Run the bundled golden image through the active models and compare with the outputs recorded for them."""
    st = await analyses.selftest()
    return SelftestOut(ok=bool(st["ok"]), problems=list(st["problems"]), image=st.get("image"),
                       model_version=st["model_version"], replica_id=request.app.state.settings.replica_id)


# ---------------------------------------------------------------------------------------------------- registry
def _model_out(row: ModelVersion) -> ModelVersionOut:
    meta = row.meta or {}
    side = meta.get("sidecar", {})
    return ModelVersionOut(name=row.name, task=row.task, version=row.version, sha256=row.sha256,
                           size_bytes=row.size_bytes, status=row.status, source=row.source, metrics=row.metrics,
                           labels=side.get("labels") or side.get("classes"), signature=meta.get("signature"),
                           created_by=row.created_by, created_at=row.created_at, promoted_at=row.promoted_at,
                           download_url=f"/v1/models/{row.name}/versions/{row.version}/download")


@router.get("/models", response_model=ModelList)
async def list_models(session: DbSession, user: CurrentUser, name: str | None = None,
                      status: Annotated[str | None, Query(pattern="^(staged|active|retired)$")] = None) -> ModelList:
    """Every registered model version with its task, checksum, size, metrics and status."""
    return ModelList(items=[_model_out(r) for r in await registry.list_versions(session, name, status)])


@router.get("/models/served", response_model=ServedModels)
async def served_models(request: Request, user: CurrentUser) -> ServedModels:
    """What this replica is serving right now (changes on promotion, without a restart)."""
    return ServedModels(**request.app.state.runtime.describe())


@router.get("/models/{name}/versions/{version}", response_model=ModelVersionOut,
            responses=error_responses(registry.ModelNotFoundError))
async def get_model_version(name: str, version: str, session: DbSession, user: CurrentUser) -> ModelVersionOut:
    """One model version."""
    return _model_out(await registry.get_version(session, name, version))


def _check_range(header: str | None, size: int) -> None:
    """Refuse bad ranges with the platform's JSON errors (FileResponse would answer in plain text)."""
    if header is None:
        return
    try:
        ranges = FileResponse._parse_range_header(header, size)
    except Exception as e:  # Starlette's MalformedRangeHeader / RangeNotSatisfiable are not exported publicly
        if type(e).__name__ == "RangeNotSatisfiable":
            raise registry.RangeNotSatisfiableError(details={"size": size},
                                                    headers={"Content-Range": f"bytes */{size}"}) from None
        raise registry.MalformedRangeError() from None
    if not ranges:
        raise registry.MalformedRangeError()


@router.get("/models/{name}/versions/{version}/download",
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Partial"},
                       304: {"description": "Not modified"},
                       **error_responses(registry.ModelNotFoundError, registry.ModelBlobMissingError,
                                         registry.MalformedRangeError, registry.RangeNotSatisfiableError)})
async def download_model(name: str, version: str, request: Request, session: DbSession,
                         user: Publisher) -> Response:
    """The ONNX file. ETag is the sha256; supports If-None-Match (304), Range and If-Range (206)."""
    row = await registry.get_version(session, name, version)
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable",
               "X-Model-Sha256": row.sha256}
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        if "*" in tags or etag in tags:
            return Response(status_code=304, headers=headers)
    path = request.app.state.store.blob_path(row.sha256)
    if not path.is_file():
        raise registry.ModelBlobMissingError(details={"name": name, "version": version})
    if request.headers.get("if-range") in (None, etag):
        _check_range(request.headers.get("range"), path.stat().st_size)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{name}-{version}.onnx",
                        headers=headers)


router.add_api_route("/models/{name}/versions/{version}/download", download_model, methods=["HEAD"],
                     include_in_schema=False)


def _json_field(raw: str | None, field: str) -> dict | None:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise registry.ModelMetadataInvalidError(details={"field": field, "reason": "not JSON"}) from None
    if not isinstance(value, dict):
        raise registry.ModelMetadataInvalidError(details={"field": field, "reason": "must be a JSON object"})
    return value


async def _small_file(f: UploadFile | None, field: str) -> bytes | None:
    if f is None:
        return None
    data = await f.read(registry.ASSET_LIMIT + 1)
    if len(data) > registry.ASSET_LIMIT:
        raise registry.ModelTooLargeError(details={"field": field, "max_bytes": registry.ASSET_LIMIT})
    return data


@router.post("/models", response_model=ModelVersionOut, status_code=201,
             responses=error_responses(registry.ModelTooLargeError, registry.ModelInvalidError,
                                       registry.ModelSignatureMismatchError, registry.ModelGoldenCheckError,
                                       registry.ModelMetadataInvalidError, registry.UnknownTaskError,
                                       registry.InvalidModelNameError, registry.ModelDuplicateError,
                                       registry.ModelVersionExistsError, ForbiddenError))
async def upload_model(
        request: Request, session: DbSession, user: Publisher,
        file: Annotated[UploadFile, File(description="ONNX model")],
        name: Annotated[str, Form(max_length=64)], task: Annotated[str, Form(max_length=32)],
        version: Annotated[str, Form(max_length=64)],
        metadata: Annotated[str | None, Form(description="JSON: labels, thresholds, ... (else inherited)")] = None,
        metrics: Annotated[str | None, Form(description="JSON object of evaluation metrics")] = None,
        gate_stats: Annotated[UploadFile | None, File(description="chest: embedding statistics (.npz)")] = None,
        gate_config: Annotated[UploadFile | None, File(description="chest: gate thresholds (gate.json)")] = None,
        golden_expected: Annotated[UploadFile | None, File(description="chest: self-test outputs")] = None,
) -> ModelVersionOut:
    """Upload an ONNX model; it is validated (loads, signature, golden image) and staged, never made active."""
    state = request.app.state
    limit = state.settings.max_model_bytes
    registry.check_name(name, version)
    registry.task_spec(task)
    if file.size is not None and file.size > limit:
        raise registry.ModelTooLargeError(details={"bytes": file.size, "max_bytes": limit})
    meta, mets = _json_field(metadata, "metadata"), _json_field(metrics, "metrics")
    assets = {}
    for rel, f, field in (("chestnet_gate.npz", gate_stats, "gate_stats"), ("gate.json", gate_config, "gate_config"),
                          ("golden/expected.json", golden_expected, "golden_expected")):
        data = await _small_file(f, field)
        if data is not None:
            if task != "chest":
                raise registry.ModelMetadataInvalidError(details={"field": field, "reason": "only for task chest"})
            assets[rel] = data
    blob = await anyio.to_thread.run_sync(
        lambda: state.store.write_stream(file.file, limit, lambda n: registry.ModelTooLargeError(
            details={"max_bytes": limit})))
    row = await registry.register_candidate(session, state.store, state.settings, name=name, task=task,
                                            version=version, blob=blob, source="upload", actor=user.user_id,
                                            metadata=meta, metrics=mets, assets=assets)
    return _model_out(row)


@router.post("/models/{name}/versions/{version}:promote", response_model=PromotionOut,
             responses=error_responses(registry.ModelNotFoundError, registry.ModelBlobMissingError, ForbiddenError))
async def promote_model(name: str, version: str, request: Request, session: DbSession, user: Admin) -> PromotionOut:
    """Admin: make this version the active one; every replica switches to it without a restart."""
    row, previous, changed = await registry.promote(session, request.app.state.store, name, version, user.user_id)
    return PromotionOut(name=name, active_version=row.version, sha256=row.sha256,
                        previous_version=previous.version if previous else None, changed=changed)


@router.post("/models/{name}:rollback", response_model=PromotionOut,
             responses=error_responses(registry.NothingToRollBackError, registry.ModelBlobMissingError,
                                       ForbiddenError))
async def rollback_model(name: str, request: Request, session: DbSession, user: Admin) -> PromotionOut:
    """Admin: undo the latest promotion of this model."""
    row, previous = await registry.rollback(session, request.app.state.store, name, user.user_id)
    return PromotionOut(name=name, active_version=row.version, sha256=row.sha256,
                        previous_version=previous.version, changed=True)


# ---------------------------------------------------------------------------------------------------- training jobs
def _job_out(job: TrainingJob) -> TrainingJobOut:
    return TrainingJobOut(id=str(job.id), status=job.status, model_name=job.model_name, version=job.version,
                          params=job.params, dataset=job.dataset, progress=job.progress, result=job.result,
                          error=job.error, attempts=job.attempts, created_at=job.created_at,
                          started_at=job.started_at, finished_at=job.finished_at,
                          events_url=f"/v1/training-jobs/{job.id}/events")


def _owner(user: Identity) -> str | None:
    return None if user.role == "admin" else user.user_id


@router.post("/training-jobs", response_model=TrainingJobOut, status_code=202,
             responses=error_responses(jobs.TrainingZipTooLargeError, jobs.ZipInvalidError, jobs.ZipUnsafeError,
                                       jobs.ZipBombError, jobs.ZipTooManyFilesError, jobs.DatasetLayoutError,
                                       jobs.TooFewImagesError, jobs.ImagesUnreadableError,
                                       jobs.DuplicateImagesError, jobs.TrainingParamsError,
                                       registry.InvalidModelNameError, registry.ModelVersionExistsError,
                                       ForbiddenError))
async def create_training_job(
        request: Request, session: DbSession, user: Publisher,
        file: Annotated[UploadFile, File(description="zip: one folder per class, PNG/JPEG images inside")],
        model_name: Annotated[str, Form(max_length=64)] = "custom-classifier",
        version: Annotated[str | None, Form(max_length=64)] = None,
        epochs: Annotated[int, Form()] = 5, image_size: Annotated[int, Form()] = 224,
        learning_rate: Annotated[float, Form()] = 1e-3, val_fraction: Annotated[float, Form()] = 0.2,
        seed: Annotated[int, Form()] = 0,
) -> TrainingJobOut:
    """Fine-tune a classifier on your own labelled images (transfer learning from our chest backbone). The
    result is registered as a staged model version; an admin promotes it."""
    state = request.app.state
    s = state.settings
    params = jobs.JobParams(epochs, image_size, learning_rate, val_fraction, seed).check()
    await jobs.check_target(session, model_name, version or None)
    if file.size is not None and file.size > s.max_training_zip_bytes:
        raise jobs.TrainingZipTooLargeError(details={"bytes": file.size, "max_bytes": s.max_training_zip_bytes})
    blob = await anyio.to_thread.run_sync(
        lambda: state.store.write_stream(file.file, s.max_training_zip_bytes, lambda n: jobs.TrainingZipTooLargeError(
            details={"max_bytes": s.max_training_zip_bytes})))
    try:
        dataset = await anyio.to_thread.run_sync(jobs.inspect_zip, blob.path, jobs.ZipLimits.from_settings(s))
        job = await jobs.create_job(session, state.store, zip_path=blob.path, zip_sha256=blob.sha256,
                                    dataset=dataset, params=params, model_name=model_name, version=version or None,
                                    actor=user.user_id)
    finally:
        blob.path.unlink(missing_ok=True)  # moved into the store on success; removed on any refusal
    return _job_out(job)


@router.get("/training-jobs", response_model=TrainingJobList)
async def list_training_jobs(session: DbSession, user: Publisher) -> TrainingJobList:
    """Training jobs (admins see all; integrators their own)."""
    return TrainingJobList(items=[_job_out(j) for j in await jobs.list_jobs(session, _owner(user))])


@router.get("/training-jobs/{job_id}", response_model=TrainingJobOut,
            responses=error_responses(jobs.TrainingJobNotFoundError))
async def get_training_job(job_id: str, session: DbSession, user: Publisher) -> TrainingJobOut:
    """One training job with its latest progress."""
    return _job_out(await jobs.get_job(session, job_id, _owner(user)))


@router.get("/training-jobs/{job_id}/events", responses={200: {"content": {"text/event-stream": {}}},
                                                         **error_responses(jobs.TrainingJobNotFoundError)})
async def training_job_events(job_id: str, request: Request, session: DbSession, user: Publisher,
                              after: Annotated[int | None, Query(ge=0)] = None) -> StreamingResponse:
    """Server-Sent Events: status, then per-epoch progress (loss, validation AUROC), then the result or error.
    Resume with the Last-Event-ID header (or ?after=<id>); served by any replica."""
    job = await jobs.get_job(session, job_id, _owner(user))
    last = request.headers.get("last-event-id")
    after_id = after if after is not None else (int(last) if last and last.isdigit() else 0)
    state = request.app.state
    stream = jobs.stream_events(state.sessionmaker, state.redis, state.settings, job.id, after_id,
                                request.is_disconnected)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
