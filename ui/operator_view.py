"""The floor-terminal chat: large type and buttons, streamed answers, source chips that open the
passage and a picture of its page, thumbs up/down, filters, a terminal id, no login."""

from __future__ import annotations

import base64
import html
import io
import logging
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from assistant.answering import SOURCE_NOTES, Answer, Turn
from assistant.evidence import Evidence
from assistant.retrieval import Filters
from ui.labels import LABELS, Labels, labels_for, terminal_language
from ui.usecases import Logged, Shopfloor

log = logging.getLogger(__name__)

CSS = """
.gradio-container { font-size: 20px !important; }
button { min-height: 56px !important; font-size: 20px !important; }
textarea, input { font-size: 20px !important; }
.safety { background: #ffe066; border-left: 8px solid #d9480f; padding: 8px 12px; font-weight: 600; }
#page-picture img.page { max-height: 560px; width: auto; max-width: 100%; border: 1px solid #ced4da; }
.directed { background: #e7f5ff; border-left: 8px solid #1c7ed6; padding: 8px 12px; font-weight: 600; }
#sources label { font-size: 18px !important; padding: 12px 16px !important; }
#chat .message, #chat .message * { font-size: 20px !important; line-height: 1.45 !important; }
"""


@dataclass
class Conversation:
    """One terminal's session: its turns, the citations on screen, the gap-log ids of its answers."""

    terminal: str = "terminal"
    language: str = "en"  # the terminal's: ?lang=, else its browser's
    turns: list[Turn] = field(default_factory=list)
    citations: list[Any] = field(default_factory=list)
    # chat message index -> gap-log id (None: spooled while the shared gap log is down, no feedback)
    question_ids: dict[int, int | None] = field(default_factory=dict)
    last_down: int | None = None


def source_label(citation: Any, labels: Labels = LABELS["en"]) -> str:
    page = f" · {labels.page} {citation.page}" if citation.page is not None else ""
    section = f" · {citation.section}" if citation.section else ""
    via = f" · {SOURCE_NOTES[citation.text_source]}" if citation.text_source in SOURCE_NOTES else ""
    return f"[{citation.number}] {citation.file}{page}{section}{via}"


def evidence_markdown(evidence: list[Evidence], labels: Labels = LABELS["en"], limit: int = 3) -> str:
    """The manual's own lines, quoted exactly with document, page and section (document text escaped)."""
    quotes = []
    for line in evidence[:limit]:
        p = line.passage
        page = f"{labels.page} {line.page}" if line.page is not None else ""
        where = ", ".join(x for x in (p.file, page, p.section) if x)
        quotes.append(f"> “{as_text(line.text)}”  \n> — *{as_text(where)}*")
    return "\n>\n".join(quotes)


def draft_markdown(evidence: list[Evidence], draft: str, labels: Labels = LABELS["en"]) -> str:
    """While the model writes: the evidence first, the growing answer under it."""
    shown = f"**{labels.from_manual}**\n\n{evidence_markdown(evidence, labels)}" if evidence else ""
    return f"{shown}\n\n{as_text(draft)}…" if draft else (shown or "…")


def answer_markdown(answer: Answer, labels: Labels = LABELS["en"]) -> str:
    """How an answer reads in the chat: the answer over the lines it rests on, safety notices set
    apart; or a plain refusal over the lines that came closest. The answer is in the operator's
    language; the lines and notices stay as the manual writes them."""
    if answer.mode == "directed":  # a policy rule keeps this question for a person
        return f'<div class="directed">{as_text(answer.answer)}</div>'
    if answer.model_unreachable:
        return f"*{labels.model_unreachable}*\n\n{_answer_body(answer, labels)}"
    return _answer_body(answer, labels)


def _answer_body(answer: Answer, labels: Labels) -> str:
    if not answer.answered:
        refusal = f"**{as_text(answer.answer)}**"
        if not answer.evidence:
            return refusal
        return f"{refusal}\n\n{labels.closest}\n\n{evidence_markdown(answer.evidence, labels)}"
    quoted = [e for e in answer.evidence if any(e.text in c.lines for c in answer.citations)]
    notices = "".join(f'\n\n<div class="safety">⚠ {as_text(w)}</div>' for w in answer.warnings)
    body = as_text(answer.answer)
    if answer.mode == "composed" and quoted:
        body += f"\n\n{evidence_markdown(quoted, labels)}"
    return f"{body}{notices}"


def _data_url(image: Any) -> str:
    """A PIL image as a data: URL (WebP: a page is 60-150 KB)."""
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=80)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Markdown that would make an element of a manual's text: emphasis, links and images ([..](..),
# ![..](..)), code; and the web addresses a renderer turns into links by itself.
_MARKDOWN = re.compile(r"([\\`*_\[\]])")
_BARE_LINK = re.compile(r"(?i)\b(https?|ftp|www)(:|\.)")


def as_text(text: str) -> str:
    """Document text reaches the page as text: no element of a manual is ever rendered (HTML is
    escaped, Markdown syntax is escaped, addresses are not linked)."""
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))
    return _BARE_LINK.sub(r"\1\\\2", escaped)


def terminal_id(request: gr.Request, pins: dict[str, str] | None = None) -> str:
    """The terminal a question came from: ?terminal=T7 in its address, else the browser's address.
    Cut short and kept to plain characters: it is written to the gap log and shown to the manager.
    Anyone can type ?terminal=: where the plant pins terminals to addresses, the address decides."""
    host = request.client.host if request.client else ""
    if pins:
        return pins.get(host) or (f"web:{host}" if host else "web")
    given = request.query_params.get("terminal") or ""
    cleaned = "".join(c for c in given if c.isalnum() or c in "-_.:")[:40]
    if cleaned:
        return cleaned
    return f"web:{host}" if host else "web"


def build_operator_view(shopfloor: Shopfloor) -> gr.Blocks:
    with gr.Blocks(title="Shopfloor Assistant", analytics_enabled=False) as view:
        conversation = gr.State(None)  # a Conversation, made with the first question
        english = LABELS["en"]
        header = gr.Markdown(f"# {english.title}\n{english.intro}")
        with gr.Row():
            tags = gr.Dropdown([], multiselect=True, label="Equipment / line", scale=1)
            docs = gr.Dropdown([], multiselect=True, label="Document", scale=1)
            new_chat = gr.Button("New conversation", variant="secondary", scale=0)
        chat = gr.Chatbot(label="Conversation", height=420, feedback_options=("Like", "Dislike"), elem_id="chat")
        with gr.Row():
            question = gr.Textbox(placeholder="Type your question…", show_label=False, scale=4, autofocus=True)
            ask = gr.Button("Ask", variant="primary", scale=1)
        with gr.Row(visible=False) as reason_row:
            reason = gr.Textbox(placeholder="What was wrong? (optional)", show_label=False, scale=4)
            send_reason = gr.Button("Send", scale=1)
        sources = gr.Radio([], label="Sources — tap one to open it", elem_id="sources")
        with gr.Row():
            passage = gr.Markdown()
            # The page picture travels inside the page (a data: URL): the operator app serves no files.
            picture = gr.HTML(visible=False, elem_id="page-picture")
        gr.Examples(shopfloor.suggested_questions(), inputs=question, label="Try asking")

        def open_page(request: gr.Request):
            """When a terminal opens the page: its language's words, and the filters read from the
            live index (documents ingested while the app runs are offered)."""
            words = labels_for(_language(request))
            choices = shopfloor.filter_choices()
            return (
                f"# {words.title}\n{words.intro}",
                gr.update(choices=choices.tags, label=words.equipment),
                gr.update(choices=choices.documents, label=words.document),
                gr.update(value=words.new_conversation),
                gr.update(label=words.conversation),
                gr.update(placeholder=words.placeholder),
                gr.update(value=words.ask),
                gr.update(placeholder=words.what_was_wrong),
                gr.update(value=words.send),
                gr.update(label=words.sources),
            )

        def respond(
            text: str,
            history: list[dict[str, Any]],
            state: Conversation | None,
            tag_values: list[str],
            doc_ids: list[str],
            request: gr.Request,
        ):
            # The terminal id comes with each question (?terminal=T7), so no page-load event can race it.
            state = state or Conversation(
                terminal=terminal_id(request, shopfloor.settings.terminal_pins), language=_language(request)
            )
            words = labels_for(state.language)
            text = (text or "").strip()
            if not text:
                yield history, state, gr.update(), ""
                return
            history = [*history, {"role": "user", "content": text}, {"role": "assistant", "content": "…"}]
            yield history, state, gr.update(choices=[], value=None), ""
            filters = Filters(doc_ids=set(doc_ids or []), tags=dict(t.split("=", 1) for t in tag_values or []))
            for partial in _stream(shopfloor, text, state, filters):
                if isinstance(partial, Draft):
                    history[-1] = {
                        "role": "assistant",
                        "content": draft_markdown(partial.evidence, partial.text, words),
                    }
                    yield history, state, gr.update(), ""
                    continue
                answer = partial.answer
                state.question_ids[len(history) - 1] = partial.question_id
                state.turns.append(Turn(answer.question_en or text, answer.answer))  # follow-ups search in English
                state.citations = answer.citations
                history[-1] = {"role": "assistant", "content": answer_markdown(answer, words)}
                labels = [source_label(c, words) for c in answer.citations] if answer.answered else []
                yield history, state, gr.update(choices=labels, value=None), ""

        def open_source(label: str | None, state: Conversation | None):
            words = labels_for(state.language if state else "en")
            citation = next((c for c in (state.citations if state else []) if source_label(c, words) == label), None)
            if citation is None:
                return "", gr.update(visible=False, value=None)
            quoted = "".join(f"> {as_text(line)}\n>\n" for line in citation.lines)
            passage_text = as_text(citation.text).replace("\n", "  \n")
            shown = f"**{as_text(source_label(citation, words))}**\n\n{quoted}\n{passage_text}"
            picture = shopfloor.page_image(citation.doc_id, citation.page, citation.text) if citation.page else None
            if picture is not None and picture.note:
                shown += f"\n\n*{as_text(picture.note)}*"
            image = picture.image if picture is not None else None
            if image is None:
                return shown, gr.update(visible=False, value="")
            alt = html.escape(f"Page {citation.page} of {citation.file}")
            return shown, gr.update(visible=True, value=f'<img src="{_data_url(image)}" alt="{alt}" class="page">')

        def feedback(state: Conversation | None, data: gr.LikeData):
            if state is None:
                return state, gr.update(visible=False)
            question_id = state.question_ids.get(data.index if isinstance(data.index, int) else data.index[0])
            if question_id is None:
                return state, gr.update(visible=False)
            shopfloor.feedback(question_id, helpful=bool(data.liked))
            state.last_down = None if data.liked else question_id
            return state, gr.update(visible=not data.liked)

        def give_reason(text: str, state: Conversation | None):
            if state is not None and state.last_down is not None and text.strip():
                shopfloor.feedback(state.last_down, helpful=False, reason=text.strip())
            return "", gr.update(visible=False)

        def clear() -> tuple[list[Any], None, Any, str, Any]:
            return [], None, gr.update(choices=[], value=None), "", gr.update(visible=False, value="")

        inputs = [question, chat, conversation, tags, docs]
        outputs = [chat, conversation, sources, question]
        ask.click(respond, inputs, outputs, concurrency_limit=1, concurrency_id="llm")
        question.submit(respond, inputs, outputs, concurrency_limit=1, concurrency_id="llm")
        sources.change(open_source, [sources, conversation], [passage, picture])
        chat.like(feedback, [conversation], [conversation, reason_row])
        send_reason.click(give_reason, [reason, conversation], [reason, reason_row])
        new_chat.click(clear, outputs=[chat, conversation, sources, passage, picture])
        page_words = [header, tags, docs, new_chat, chat, question, ask, reason, send_reason, sources]
        view.load(open_page, None, page_words, api_visibility="private")
    return view


def _language(request: gr.Request) -> str:
    return terminal_language(request.query_params.get("lang"), request.headers.get("accept-language"))


@dataclass
class Draft:
    """What is on screen before the answer is final: the evidence, then the model's growing text."""

    evidence: list[Evidence]
    text: str = ""


def _stream(shopfloor: Shopfloor, text: str, state: Conversation, filters: Filters) -> Iterator[Draft | Logged]:
    """Yield the evidence as soon as it is found, the growing draft as tokens arrive, then the final
    checked answer with its gap-log id. The answer is logged by the worker itself: a terminal that
    leaves mid-answer loses no row."""
    events: queue.Queue[list[Evidence] | str | None] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = shopfloor.ask(
                text,
                terminal=state.terminal,
                filters=filters,
                history=list(state.turns),
                on_token=events.put,
                on_evidence=events.put,
                language=state.language,
            )
        except Exception:  # the operator gets a plain message; the details go to the log
            log.exception("answering failed: question=%r", text)
            result["error"] = True
        finally:
            events.put(None)

    threading.Thread(target=work, name="answer", daemon=True).start()
    draft = Draft([])
    while (event := events.get()) is not None:
        if isinstance(event, list):
            draft.evidence = event
        else:
            draft.text += event
        yield draft
    if "error" in result:
        raise gr.Error(labels_for(state.language).could_not_answer)
    yield result["answer"]
