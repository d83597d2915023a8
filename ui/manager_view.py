"""The AI manager's view: the knowledge map of what the manuals do not cover, answer-rate figures,
drill-down to the questions and the passages retrieved for them, CSV export, index status."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from assistant.gaps import Gap, GapLog
from assistant.knowledge_map import Topic, group_gaps, write_csv
from indexes.embedding import Embedder
from indexes.store import IndexStore


def build_manager_view(
    gap_log: GapLog, embedder: Embedder, store: IndexStore, recheck: Callable[[list[Gap]], list[int]]
) -> gr.Blocks:
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
            headers=["topic", "count", "equipment", "examples", "first seen", "last seen"],
            column_widths=["28%", "7%", "11%", "30%", "12%", "12%"],
            interactive=False,
            wrap=True,
        )
        with gr.Row():
            topic_pick = gr.Dropdown([], label="Topic", scale=3)
            resolve = gr.Button("Mark topic resolved", scale=1)
        questions_table = gr.Dataframe(
            headers=["asked", "terminal", "question", "why not answered", "passages retrieved"],
            interactive=False,
            wrap=True,
        )
        gr.Markdown("## Index status")
        docs_table = gr.Dataframe(
            headers=["document", "title", "revision", "pages", "chunks", "tags", "ingested"], interactive=False
        )

        def load(since_text: str):
            since_value = since_text.strip() or None
            topics = group_gaps(gap_log.open_gaps(since_value), embedder)
            f = gap_log.figures(since_value)
            summary = (
                f"**{f.questions}** questions · **{f.answered_pct:.0f}%** answered · "
                f"**{f.thumbs_down_pct:.0f}%** thumbs down · median answer **{f.median_latency_s:.1f} s** · "
                f"**{f.open_gaps}** open gaps in **{len(topics)}** topics"
            )
            rows = [
                [t.label, t.count, ", ".join(t.equipment), " | ".join(t.examples), t.first_seen, t.last_seen]
                for t in topics
            ]
            return (
                summary,
                _trend(gap_log, since_value),
                rows,
                gr.update(choices=[t.label for t in topics], value=None),
                topics,
                _docs(store),
                _csv(topics),
            )

        def drill(label: str | None, topics: list[Topic]):
            topic = next((t for t in topics if t.label == label), None)
            if topic is None:
                return []
            return [[g.asked_at, g.terminal, g.question, g.reason, _passages(g)] for g in topic.gaps]

        def mark_resolved(label: str | None, topics: list[Topic]):
            topic = next((t for t in topics if t.label == label), None)
            if topic is not None:
                gap_log.resolve([g.id for g in topic.gaps])
                gr.Info(f"Marked {topic.count} questions resolved")

        def run_recheck():
            open_gaps = gap_log.open_gaps()
            solved = recheck(open_gaps)
            gap_log.resolve(solved)
            gr.Info(f"Re-checked {len(open_gaps)} open gaps: {len(solved)} are now answered by the index")

        # Every manager event is private: its login page must not list them, nor the API expose them.
        outputs = [figures, trend, topics_table, topic_pick, topics_state, docs_table, export]
        view.load(load, [since], outputs, api_visibility="private")
        refresh.click(load, [since], outputs, api_visibility="private")
        topic_pick.change(drill, [topic_pick, topics_state], questions_table, api_visibility="private")
        resolve.click(mark_resolved, [topic_pick, topics_state], None, api_visibility="private").then(
            load, [since], outputs, api_visibility="private"
        )
        recheck_button.click(run_recheck, None, None, api_visibility="private").then(
            load, [since], outputs, api_visibility="private"
        )
    return view


def _trend(gap_log: GapLog, since: str | None) -> pd.DataFrame:
    rows = []
    for day, answered, unanswered in gap_log.daily_counts(since):
        rows += [(day, "answered", answered), (day, "not answered", unanswered)]
    return pd.DataFrame(rows, columns=["day", "status", "questions"])


def _docs(store: IndexStore) -> list[list[Any]]:
    manifest = store.read_manifest()
    if manifest is None:
        return []
    return [
        [
            r.doc_id,
            r.title,
            r.revision or "",
            r.pages,
            r.chunks,
            " ".join(f"{k}={v}" for k, v in r.tags.items()),
            r.ingested_at,
        ]
        for r in sorted(manifest.documents.values(), key=lambda r: r.doc_id)
    ]


def _passages(gap: Gap) -> str:
    return "; ".join(f"{s['file']} p.{s['page']} ({s['score']})" for s in gap.sources[:3]) or "none"


def _csv(topics: list[Topic]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".csv", prefix="knowledge-gaps-", delete=False, newline="") as f:
        write_csv(topics, f)
        return f.name
