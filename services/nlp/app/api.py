from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from zhenxi_common.db import DbSession
from zhenxi_common.errors import error_responses
from zhenxi_common.identity import CurrentUser

from . import repository
from .errors import (ConsultationNotFoundError, EmptyTextError, MissingQueryError, NoIndicatorsError,
                     TextTooLongError, UnknownFindingError, UnknownIndicatorsError)
from .llm import Turn
from .models import Consultation, Message
from .schemas import (Caller, ConsultationCreate, ConsultationList, ConsultationOut, DiseaseList, DiseaseOut,
                      ExchangeOut, InterpretationRequest, InterpretationResponse, KnowledgeInfo, MessageCreate,
                      MessageOut, ServiceInfo, SymptomAnalysisRequest, SymptomAnalysisResponse)
from .service import NlpService

router = APIRouter(prefix="/v1", tags=["nlp"])


def get_nlp(request: Request) -> NlpService:
    return request.app.state.nlp


Nlp = Annotated[NlpService, Depends(get_nlp)]
_TEXT_ERRORS = error_responses(EmptyTextError, TextTooLongError)


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


@router.get("/knowledge", response_model=KnowledgeInfo)
async def knowledge(nlp: Nlp, user: CurrentUser) -> KnowledgeInfo:
    """Version and size of the knowledge base this instance serves."""
    kb = nlp.kb
    return KnowledgeInfo(knowledge_version=kb.version, diseases=len(kb.diseases), symptoms=len(kb.symptoms),
                         indicators=len(kb.indicators), interpretations=len(kb.interpretations),
                         patterns=len(kb.patterns), departments=len(kb.departments),
                         retrieval_mode=nlp.retriever.mode)


@router.post("/interpretations", response_model=InterpretationResponse,
             responses=error_responses(NoIndicatorsError, UnknownIndicatorsError))
async def interpret(body: InterpretationRequest, nlp: Nlp, user: CurrentUser) -> dict:
    """Explain lab results: abnormal indicators, cross-indicator patterns, urgency, departments, tips tags."""
    items = body.items()
    sex, age = body.subject()
    return await anyio.to_thread.run_sync(
        lambda: nlp.interpret(items, sex=sex, age=age, medications=body.medications, lang=body.lang))


@router.post("/symptoms:analyze", response_model=SymptomAnalysisResponse, responses=_TEXT_ERRORS)
async def analyze_symptoms(body: SymptomAnalysisRequest, nlp: Nlp, user: CurrentUser) -> dict:
    """Find symptoms (negation, duration, severity), red flags, candidate conditions, departments and urgency."""
    return await anyio.to_thread.run_sync(lambda: nlp.analyze_symptoms(body.text, body.lang))


@router.get("/diseases", response_model=DiseaseList,
            responses=error_responses(MissingQueryError, UnknownFindingError, TextTooLongError))
async def diseases(nlp: Nlp, user: CurrentUser, finding: str | None = Query(None, max_length=64),
                   q: str | None = Query(None, max_length=500), limit: int = Query(20, ge=1, le=100),
                   lang: str = Query("zh", pattern="^(zh|en)$")) -> dict:
    """Diseases linked to an X-ray finding (ChestX-ray14 label) and/or matching a free-text query."""
    return await anyio.to_thread.run_sync(lambda: nlp.diseases(finding=finding, q=q, limit=limit, lang=lang))


@router.get("/diseases/{disease_id}", response_model=DiseaseOut)
async def disease(disease_id: str, nlp: Nlp, user: CurrentUser,
                  lang: str = Query("zh", pattern="^(zh|en)$")) -> dict:
    """One disease entry with its treatment information."""
    if disease_id not in nlp.kb.diseases:
        from zhenxi_common.errors import NotFoundError

        raise NotFoundError("没有这个疾病条目。 No such disease entry.", details={"id": disease_id[:64]})
    return nlp.disease_entry(disease_id, lang)


def _message_out(m: Message) -> MessageOut:
    return MessageOut(id=str(m.id), role=m.role, content=m.content, kind=m.kind, urgency=m.urgency,
                      sources=m.sources or [], departments=m.departments or [],
                      knowledge_version=m.knowledge_version, created_at=m.created_at)


def _consultation_out(c: Consultation, messages: list[Message] | None = None) -> ConsultationOut:
    return ConsultationOut(id=str(c.id), title=c.title, created_at=c.created_at, updated_at=c.updated_at,
                           messages=[_message_out(m) for m in messages or []])


async def _exchange(session, nlp: NlpService, consultation: Consultation, content: str, max_turns: int) -> ExchangeOut:
    history = await repository.list_messages(session, consultation.id, limit=max_turns)
    turns = [Turn(m.role, m.content) for m in history]
    answer = await anyio.to_thread.run_sync(lambda: nlp.answer(content, turns))
    question = await repository.add_message(session, consultation, "user", content)
    reply = await repository.add_message(session, consultation, "assistant", answer.text, kind=answer.kind,
                                         urgency=answer.urgency, sources=answer.sources,
                                         departments=answer.departments, knowledge_version=nlp.kb.version)
    return ExchangeOut(consultation_id=str(consultation.id), question=_message_out(question),
                       answer=_message_out(reply))


@router.post("/consultations", response_model=ConsultationOut, status_code=201, responses=_TEXT_ERRORS)
async def create_consultation(body: ConsultationCreate, request: Request, session: DbSession, nlp: Nlp,
                              user: CurrentUser) -> ConsultationOut:
    """Start a consultation (optionally with its first question, answered at once)."""
    from .triage import check_text

    if body.question is not None:
        check_text(body.question)
    title = (body.title or (body.question or "").strip()[:30] or "新的咨询").strip() or "新的咨询"
    c = await repository.create_consultation(session, user.user_id, title)
    if body.question is not None:
        await _exchange(session, nlp, c, body.question, request.app.state.settings.max_history_turns)
    return _consultation_out(c, await repository.list_messages(session, c.id))


@router.get("/consultations", response_model=ConsultationList)
async def list_consultations(session: DbSession, user: CurrentUser) -> ConsultationList:
    """The caller's own consultations, most recent first."""
    rows = await repository.list_consultations(session, user.user_id)
    return ConsultationList(consultations=[_consultation_out(c) for c in rows])


@router.get("/consultations/{consultation_id}", response_model=ConsultationOut,
            responses=error_responses(ConsultationNotFoundError))
async def get_consultation(consultation_id: str, session: DbSession, user: CurrentUser) -> ConsultationOut:
    """One of the caller's consultations with all its messages."""
    c = await repository.get_consultation(session, user.user_id, consultation_id)
    if c is None:
        raise ConsultationNotFoundError()
    return _consultation_out(c, await repository.list_messages(session, c.id))


@router.post("/consultations/{consultation_id}/messages", response_model=ExchangeOut, status_code=201,
             responses=error_responses(ConsultationNotFoundError, EmptyTextError, TextTooLongError))
async def post_message(consultation_id: str, body: MessageCreate, request: Request, session: DbSession, nlp: Nlp,
                       user: CurrentUser) -> ExchangeOut:
    """Ask a question in a consultation; the answer cites knowledge entries, declines off-topic, escalates emergencies."""
    c = await repository.get_consultation(session, user.user_id, consultation_id)
    if c is None:
        raise ConsultationNotFoundError()
    return await _exchange(session, nlp, c, body.content, request.app.state.settings.max_history_turns)
