"""The AI manager's view: the knowledge map (coverage heat map with drill-down to the questions,
their answers and the passages retrieved), the topics as work with their lifecycle and audit trail,
the outcomes week by week with the report for the tier meeting, the documents, the policy rules."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from assistant.coverage import Coverage
from assistant.gaps import LoggedQuestion
from assistant.knowledge_map import Topic, write_csv
from shopfloor.errors import ShopfloorError
from ui.charts import coverage_figure, gaps_text, trend_figure
from ui.operator_view import as_text
from ui.usecases import GapReport, Shopfloor

TOPICS_PER_PAGE = 25
QUESTIONS_SHOWN = 200  # a drill-down lists the latest this many questions of a cell or topic
TOPIC_COLUMNS = ["id", "state", "owner", "due", "topic", "open gaps", "asked", "answered", "kind", "examples"]
QUESTION_COLUMNS = ["asked", "terminal", "equipment", "kind", "question", "answer or why not", "passages retrieved"]


def build_manager_view(shopfloor: Shopfloor) -> gr.Blocks:
    # Exports are written on request into this process's private folder, one file per kind.
    export_dir = tempfile.TemporaryDirectory(prefix="shopfloor-manager-")  # held by the handlers below
    # Gradio keeps a copy of each download in its cache: removed within 15 minutes, checked every 5.
    with gr.Blocks(
        title="Shopfloor Assistant — knowledge map", analytics_enabled=False, delete_cache=(300, 900)
    ) as view:
        report_state = gr.State(None)  # the GapReport on screen
        gr.Markdown(
            "# Knowledge map\nWhat the floor asks, where the manuals answer it, and the work on what they lack."
        )
        with gr.Row():
            since = gr.Textbox(label="Since (YYYY-MM-DD, empty for all)", scale=2)
            rows_by = gr.Radio(["equipment", "document"], value="equipment", label="Map rows", scale=2)
            refresh = gr.Button("Refresh", variant="primary", scale=1)
            recheck_button = gr.Button("Re-check open gaps against the index", scale=1)
        figures = gr.Markdown()
        with gr.Tab("Map"):
            heat_map = gr.Plot(label="Share answered by topic (colour), questions asked and open gaps (numbers)")
            gr.Markdown("Pick a cell to see its questions, their answers or why none, and the passages retrieved.")
            coverage_table = gr.Dataframe(interactive=False, wrap=True, elem_id="coverage")
            cell_questions = gr.Dataframe(
                headers=QUESTION_COLUMNS, interactive=False, wrap=True, elem_id="cell-questions"
            )
        with gr.Tab("Topics"):
            with gr.Row():
                page = gr.Number(value=1, minimum=1, precision=0, label="Page", scale=1)
                pages_note = gr.Markdown()
            topics_table = gr.Dataframe(headers=TOPIC_COLUMNS, interactive=False, wrap=True, elem_id="topics")
            topic_pick = gr.Dropdown([], label="Topic", allow_custom_value=False)
            proposal = gr.Markdown()
            with gr.Row():
                confirm_button = gr.Button("Confirm the new answer", variant="primary")
                reject_button = gr.Button("Reject it")
                close_button = gr.Button("Close (documented)")
                reopen_button = gr.Button("Reopen")
            with gr.Row():
                owner = gr.Textbox(label="Owner", scale=2)
                due = gr.Textbox(label="Due (YYYY-MM-DD)", scale=1)
                note = gr.Textbox(label="Note, or why it will not be documented", scale=3)
                assign_button = gr.Button("Assign", scale=1)
                wont_button = gr.Button("Won't document", scale=1)
            topic_questions = gr.Dataframe(headers=QUESTION_COLUMNS, interactive=False, wrap=True)
            topic_history = gr.Dataframe(headers=["at", "who", "action", "detail"], interactive=False, wrap=True)
            with gr.Row():
                export_gaps = gr.Button("Export open gaps (CSV)")
                export_audit = gr.Button("Export audit trail (CSV)")
        with gr.Tab("Outcomes"):
            with gr.Row():
                week = gr.Textbox(label="Week (YYYY-Www, empty for this week)", scale=2)
                outcomes_button = gr.Button("Show the week", scale=1)
                report_button = gr.Button("Weekly report (HTML)", scale=1)
            outcomes_plot = gr.Plot(label="Week by week")
            weeks_table = gr.Dataframe(
                headers=["week", "questions", "answered %", "thumbs down %", "gaps opened", "gaps closed",
                         "days to close", "hours saved"],
                interactive=False,
                elem_id="weeks",
            )  # fmt: skip
            equipment_table = gr.Dataframe(
                headers=["equipment", "questions", "answered %", "thumbs down %", "not answered", "hours saved"],
                interactive=False,
            )
        with gr.Tab("Documents"):
            gr.Markdown("How often answers cite each document, never-cited first.")
            docs_table = gr.Dataframe(
                headers=["document", "title", "revision", "ingested", "cited", "thumbs down", "not searchable"],
                interactive=False,
            )
        with gr.Tab("Policy"):
            gr.Markdown(
                "What the assistant may not decide alone (setting `policy_file`), and how often each rule fired."
            )
            rules_table = gr.Dataframe(
                headers=["rule", "action", "keywords", "equipment", "direct to", "fired"],
                interactive=False,
                elem_id="rules",
            )
        download = gr.File(label="Download", visible=False, interactive=False, elem_id="download")

        def load(since_text: str, rows: str, page_number: float | None):
            try:
                report = shopfloor.gap_report(since_text, rows_by=rows)
                rules = shopfloor.policy_rules(since_text)
            except ShopfloorError as exc:
                raise gr.Error(str(exc)) from None
            f, work = report.figures, report.work
            open_topics = len(report.open_topics)
            summary = (
                f"**{f.questions}** questions · **{f.answered_pct:.0f}%** answered · "
                f"**{f.thumbs_down_pct:.0f}%** thumbs down · median answer **{f.median_latency_s:.1f} s** · "
                f"**{f.open_gaps}** open gaps in **{open_topics}** topics"
            )
            cover = report.coverage
            rule_rows = [
                [u.rule.name, u.rule.action, ", ".join(u.rule.keywords), ", ".join(u.rule.equipment),
                 u.rule.direct_to or "", u.fired]
                for u in rules
            ]  # fmt: skip
            return (
                summary,
                coverage_figure(cover),
                _coverage_rows(cover),
                *_topic_page(work, page_number),
                report,
                _docs(shopfloor, since_text),
                rule_rows,
            )

        def show_page(report: GapReport | None, page_number: float | None):
            return _topic_page(report.work if report else [], page_number)

        def pick_cell(report: GapReport | None, event: gr.SelectData):
            if report is None or not isinstance(event.index, list | tuple) or event.index[1] == 0:
                return []
            row, column = event.index[0], event.index[1] - 1
            cover = report.coverage
            if row >= len(cover.rows) or column >= len(cover.topics):
                return []
            return _question_rows(cover.cell(cover.rows[row], column).questions, shopfloor)

        def pick_topic_row(report: GapReport | None, page_number: float | None, event: gr.SelectData):
            if report is None or not isinstance(event.index, list | tuple):
                return gr.update()
            start = (_page(page_number, len(report.work)) - 1) * TOPICS_PER_PAGE
            position = start + event.index[0]
            return report.work[position].id if position < len(report.work) else gr.update()

        def drill(topic_id: str | None, report: GapReport | None):
            topic = _find(report, topic_id)
            if topic is None:
                return [], "", []
            found = f"**Answered now, waiting for you:** {as_text(topic.proposal)}" if topic.proposal else ""
            history = [[e.at, e.who, e.action, e.detail] for e in shopfloor.topic_history(topic.id)]
            return _question_rows(topic.questions, shopfloor), found, history

        def act(action: str):
            def handler(topic_id: str | None, who_owner: str, due_text: str, note_text: str, request: gr.Request):
                if not topic_id:
                    raise gr.Error("Pick a topic first")
                who = request.username or "manager"
                note_or_none = note_text.strip() or None
                try:
                    if action == "assign":
                        shopfloor.assign_topic(topic_id, who_owner, who, due=due_text or None, note=note_or_none)
                    elif action == "confirm":
                        shopfloor.confirm_topic(topic_id, who)
                    elif action == "reject":
                        shopfloor.reject_topic(topic_id, who, note_or_none)
                    elif action == "close":
                        shopfloor.close_topic(topic_id, who, note_or_none)
                    elif action == "reopen":
                        shopfloor.reopen_topic(topic_id, who, note_or_none)
                    else:
                        shopfloor.wont_document(topic_id, who, note_text)
                except ShopfloorError as exc:
                    raise gr.Error(str(exc)) from None
                gr.Info(f"Topic {topic_id}: {action.replace('_', ' ')} done")

            return handler

        def run_recheck():
            result = shopfloor.recheck_gaps()
            gr.Info(f"Re-checked {result.checked} open topics: {len(result.answered)} are now answered by the index")

        def outcomes(week_text: str):
            try:
                weekly = shopfloor.weekly_report(week_text.strip() or None)
            except ShopfloorError as exc:
                raise gr.Error(str(exc)) from None
            weeks = [
                [w.week, w.questions, round(w.answered_pct), round(w.thumbs_down_pct), w.gaps_opened, w.gaps_closed,
                 "" if w.days_to_close is None else w.days_to_close, round(w.hours_saved, 1)]
                for w in weekly.trend
            ]  # fmt: skip
            by_equipment = [
                [row, w.questions, round(w.answered_pct), round(w.thumbs_down_pct), w.gaps_opened,
                 round(w.hours_saved, 1)]
                for row, w in weekly.by_equipment
            ]  # fmt: skip
            return trend_figure(weekly.trend), weeks, by_equipment

        def weekly_report(week_text: str):
            from ui.report import render_report

            try:
                weekly = shopfloor.weekly_report(week_text.strip() or None)
            except ShopfloorError as exc:
                raise gr.Error(str(exc)) from None
            path = _private_file(export_dir.name, f"shopfloor-report-{weekly.week}.html")
            path.write_text(render_report(weekly), encoding="utf-8")
            return gr.update(value=str(path), visible=True)

        def gaps_csv(report: GapReport | None):
            path = _private_file(export_dir.name, "knowledge-gaps.csv")
            with path.open("w", newline="", encoding="utf-8") as out:
                write_csv(report.work if report else [], out)
            return gr.update(value=str(path), visible=True)

        def audit_csv():
            path = _private_file(export_dir.name, "topic-audit-trail.csv")
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["topic", "at", "who", "action", "detail"])
                writer.writerows([e.topic_id, e.at, e.who, e.action, e.detail] for e in shopfloor.topic_history())
            return gr.update(value=str(path), visible=True)

        # Every manager event is private: its login page must not list them, nor the API expose them.
        private: dict[str, Any] = {"api_visibility": "private"}
        outputs = [figures, heat_map, coverage_table, topics_table, topic_pick, pages_note, report_state]
        outputs += [docs_table, rules_table]
        inputs = [since, rows_by, page]
        view.load(load, inputs, outputs, **private)
        refresh.click(load, inputs, outputs, **private)
        rows_by.change(load, inputs, outputs, **private)
        page.change(show_page, [report_state, page], [topics_table, topic_pick, pages_note], **private)
        coverage_table.select(pick_cell, [report_state], [cell_questions], **private)
        topics_table.select(pick_topic_row, [report_state, page], [topic_pick], **private)
        topic_pick.change(drill, [topic_pick, report_state], [topic_questions, proposal, topic_history], **private)
        buttons = {
            "assign": assign_button,
            "confirm": confirm_button,
            "reject": reject_button,
            "close": close_button,
            "reopen": reopen_button,
            "wont_document": wont_button,
        }
        for action, button in buttons.items():
            button.click(act(action), [topic_pick, owner, due, note], None, **private).success(
                load, inputs, outputs, **private
            ).then(drill, [topic_pick, report_state], [topic_questions, proposal, topic_history], **private)
        recheck_button.click(run_recheck, None, None, **private).then(load, inputs, outputs, **private)
        outcomes_button.click(outcomes, [week], [outcomes_plot, weeks_table, equipment_table], **private)
        report_button.click(weekly_report, [week], [download], **private)
        export_gaps.click(gaps_csv, [report_state], [download], **private)
        export_audit.click(audit_csv, None, [download], **private)
    return view


def _page(page_number: float | None, count: int) -> int:
    last = max(1, -(-count // TOPICS_PER_PAGE))
    return min(max(1, int(page_number or 1)), last)


def _topic_page(work: list[Topic], page_number: float | None) -> tuple[list[list[Any]], Any, str]:
    """One page of the work topics (most open gaps first), the topic picker over that page."""
    number = _page(page_number, len(work))
    shown = work[(number - 1) * TOPICS_PER_PAGE : number * TOPICS_PER_PAGE]
    last = max(1, -(-len(work) // TOPICS_PER_PAGE))
    choices = gr.update(choices=[(f"{t.id} · {t.label}", t.id) for t in shown], value=None)
    return [_topic_row(t) for t in shown], choices, f"page {number} of {last} · {len(work)} topics"


def _topic_row(t: Topic) -> list[Any]:
    work = [t.id, t.state, t.owner or "", t.due or "", t.label, t.count, t.asked, f"{100 * t.answered_share:.0f}%"]
    return [*work, t.kinds, " | ".join(t.examples)]


def _find(report: GapReport | None, topic_id: str | None) -> Topic | None:
    return next((t for t in report.work if t.id == topic_id), None) if report and topic_id else None


def _coverage_rows(cover: Coverage) -> pd.DataFrame:
    """The heat map as a table a manager can click: each cell "share answered of asked · thumbs down ·
    open gaps"."""
    columns = [cover.rows_by] + [f"{t.id} {t.label}".strip() for t in cover.topics]
    rows = []
    for row in cover.rows:
        cells = []
        for column in range(len(cover.topics)):
            cell = cover.cell(row, column)
            down = f" · {100 * cell.thumbs_down_share:.0f}% thumbs down" if cell.thumbs_down_share else ""
            gaps = f" · {gaps_text(cell.open_gaps)}" if cell.open_gaps else ""
            cells.append(f"{100 * cell.answered_share:.0f}% of {cell.asked}{down}{gaps}" if cell.asked else "")
        rows.append([row, *cells])
    return pd.DataFrame(rows, columns=columns)


def _question_rows(questions: list[LoggedQuestion], shopfloor: Shopfloor) -> list[list[Any]]:
    locator = shopfloor.locator()
    latest = sorted(questions, key=lambda q: q.id, reverse=True)[:QUESTIONS_SHOWN]
    return [
        [q.asked_at, q.terminal, locator.equipment(q), q.kind, _as_asked(q), q.answer if q.carried else q.reason,
         _passages(q)]
        for q in latest
    ]  # fmt: skip


def _as_asked(question: LoggedQuestion) -> str:
    """The question as the operator typed it, with its English rendering where it was not English."""
    if question.meaning == question.question:
        return question.question
    return f"{question.question} [{question.language}: {question.meaning}]"


def _docs(shopfloor: Shopfloor, since: str) -> list[list[Any]]:
    """Each document with how often answers cited it and the thumbs down those got; never-cited first."""
    rows = []
    for u in shopfloor.document_usage(since):
        unread = ", ".join(map(str, u.unsearchable_pages))
        ingested = u.ingested_at[:10]  # the day: the time of day says nothing here
        rows.append([u.doc_id, u.title, u.revision or "", ingested, u.cited or "never", u.thumbs_down, unread])
    return rows


def _passages(question: LoggedQuestion) -> str:
    return "; ".join(f"{s['file']} p.{s['page']} ({s['score']})" for s in question.sources[:3]) or "none"


def _private_file(folder: str, name: str) -> Path:
    """A file only this process's user can read, rewritten on each request."""
    path = Path(folder) / name
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    return path
