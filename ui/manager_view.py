"""The AI manager's view: the knowledge map of what the manuals do not cover, answer-rate figures,
drill-down to the questions and the passages retrieved for them, CSV export, index status."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from assistant.gaps import Gap
from assistant.knowledge_map import Topic, write_csv
from shopfloor.errors import ShopfloorError
from ui.operator_view import as_text
from ui.usecases import Shopfloor


def build_manager_view(shopfloor: Shopfloor) -> gr.Blocks:
    # One export file, rewritten on each refresh, readable by this process alone: the operators'
    # questions are not left behind in /tmp, one file per refresh.
    export_dir = tempfile.TemporaryDirectory(prefix="shopfloor-manager-")  # held by load(), below
    with gr.Blocks(title="Shopfloor Assistant — knowledge map", analytics_enabled=False) as view:
        topics_state = gr.State([])
        gr.Markdown("# Knowledge map\nWhat operators asked that the manuals could not answer, by topic.")
        with gr.Row():
            since = gr.Textbox(label="Since (YYYY-MM-DD, empty for all)", scale=2)
            refresh = gr.Button("Refresh", variant="primary", scale=1)
            recheck_button = gr.Button("Re-check open gaps against the index", scale=1)
            export = gr.DownloadButton("Export CSV", scale=1)
        figures = gr.Markdown()
        trend = gr.BarPlot(x="day", y="questions", color="status", label="Questions per day", height=260)
        topics_table = gr.Dataframe(
            headers=[
                "id",
                "state",
                "owner",
                "topic",
                "count",
                "kind",
                "equipment",
                "examples",
                "first seen",
                "last seen",
            ],
            column_widths=["6%", "8%", "8%", "19%", "5%", "10%", "8%", "20%", "8%", "8%"],
            interactive=False,
            wrap=True,
        )
        with gr.Row():
            topic_pick = gr.Dropdown([], label="Topic", scale=3)
            resolve = gr.Button("Close topic (documented)", scale=1)
            confirm_button = gr.Button("Confirm the new answer", scale=1)
            reject_button = gr.Button("Reject it", scale=1)
        proposal = gr.Markdown()
        questions_table = gr.Dataframe(
            headers=["asked", "terminal", "kind", "question", "why", "passages retrieved"],
            interactive=False,
            wrap=True,
        )
        gr.Markdown("## Documents: how often answers cite each, never-cited first")
        docs_table = gr.Dataframe(
            headers=["document", "title", "revision", "ingested", "cited", "thumbs down", "not searchable"],
            interactive=False,
        )

        def load(since_text: str):
            try:
                report = shopfloor.gap_report(since_text)
            except ShopfloorError as exc:
                raise gr.Error(str(exc)) from None
            topics, f = report.topics, report.figures
            summary = (
                f"**{f.questions}** questions · **{f.answered_pct:.0f}%** answered · "
                f"**{f.thumbs_down_pct:.0f}%** thumbs down · median answer **{f.median_latency_s:.1f} s** · "
                f"**{f.open_gaps}** open gaps in **{len(topics)}** topics"
            )
            rows = [_topic_row(t) for t in topics]
            return (
                summary,
                _trend(report.daily),
                rows,
                gr.update(choices=[(f"{t.id} · {t.label}", t.id) for t in topics], value=None),
                topics,
                _docs(shopfloor, since_text),
                _csv(topics, Path(export_dir.name) / "knowledge-gaps.csv"),
            )

        def drill(topic_id: str | None, topics: list[Topic]):
            topic = next((t for t in topics if t.id == topic_id), None)
            if topic is None:
                return [], ""
            rows = [[g.asked_at, g.terminal, g.kind, g.question, g.reason, _passages(g)] for g in topic.gaps]
            found = f"**Answered now, waiting for you:** {as_text(topic.proposal)}" if topic.proposal else ""
            return rows, found

        def decide(topic_id: str | None, accept: bool, request: gr.Request) -> None:
            if not topic_id:
                return
            who = request.username or "manager"
            try:
                if accept:
                    shopfloor.confirm_topic(topic_id, who)
                else:
                    shopfloor.reject_topic(topic_id, who)
            except ShopfloorError as exc:
                raise gr.Error(str(exc)) from None
            gr.Info(f"Topic {topic_id}: answer {'confirmed, topic closed' if accept else 'rejected'}")

        def confirm_answer(topic_id: str | None, request: gr.Request) -> None:
            decide(topic_id, True, request)

        def reject_answer(topic_id: str | None, request: gr.Request) -> None:
            decide(topic_id, False, request)

        def mark_resolved(topic_id: str | None, topics: list[Topic], request: gr.Request):
            topic = next((t for t in topics if t.id == topic_id), None)
            if topic is not None:
                try:
                    shopfloor.close_topic(topic.id, who=request.username or "manager")
                except ShopfloorError as exc:
                    raise gr.Error(str(exc)) from None
                gr.Info(f"Closed topic {topic.id} ({topic.count} questions)")

        def run_recheck():
            result = shopfloor.recheck_gaps()
            gr.Info(f"Re-checked {result.checked} open gaps: {len(result.answered)} are now answered by the index")

        # Every manager event is private: its login page must not list them, nor the API expose them.
        outputs = [figures, trend, topics_table, topic_pick, topics_state, docs_table, export]
        view.load(load, [since], outputs, api_visibility="private")
        refresh.click(load, [since], outputs, api_visibility="private")
        topic_pick.change(drill, [topic_pick, topics_state], [questions_table, proposal], api_visibility="private")
        for button, decision in ((confirm_button, confirm_answer), (reject_button, reject_answer)):
            button.click(decision, [topic_pick], None, api_visibility="private").then(
                load, [since], outputs, api_visibility="private"
            )
        resolve.click(mark_resolved, [topic_pick, topics_state], None, api_visibility="private").then(
            load, [since], outputs, api_visibility="private"
        )
        recheck_button.click(run_recheck, None, None, api_visibility="private").then(
            load, [since], outputs, api_visibility="private"
        )
    return view


def _topic_row(t: Topic) -> list[Any]:
    work = [t.id, t.state, t.owner or ""]
    return [*work, t.label, t.count, t.kinds, ", ".join(t.equipment), " | ".join(t.examples), t.first_seen, t.last_seen]


def _trend(daily: list[tuple[str, int, int]]) -> pd.DataFrame:
    rows = []
    for day, answered, unanswered in daily:
        rows += [(day, "answered", answered), (day, "not answered", unanswered)]
    return pd.DataFrame(rows, columns=["day", "status", "questions"])


def _docs(shopfloor: Shopfloor, since: str) -> list[list[Any]]:
    """Each document with how often answers cited it and the thumbs down those got; never-cited first."""
    rows = []
    for u in shopfloor.document_usage(since):
        unread = ", ".join(map(str, u.unsearchable_pages))
        ingested = u.ingested_at[:10]  # the day: the time of day says nothing here
        rows.append([u.doc_id, u.title, u.revision or "", ingested, u.cited or "never", u.thumbs_down, unread])
    return rows


def _passages(gap: Gap) -> str:
    return "; ".join(f"{s['file']} p.{s['page']} ({s['score']})" for s in gap.sources[:3]) or "none"


def _csv(topics: list[Topic], path: Path) -> str:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", newline="") as f:
        write_csv(topics, f)
    return str(path)
