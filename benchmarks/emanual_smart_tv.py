"""Turn the public E-Manual QA set (../shared/eval/emanual_smart_tv) into what `shopfloor eval` reads.

Writes DEST/docs/<section>.md (one Markdown file per manual section) and DEST/qa.jsonl, whose gold
`file` lists every section that answers: the one whose title ends the gold section path, and any
whose text holds the expert answer. Then:
    python benchmarks/emanual_smart_tv.py /tmp/tv
    shopfloor ingest /tmp/tv/docs --index /tmp/tv/index
    shopfloor eval /tmp/tv/qa.jsonl --index /tmp/tv/index --no-llm
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "eval" / "emanual_smart_tv"


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def convert(dest: Path) -> None:
    corpus = json.loads((SOURCE / "smart_tv_remote_manual_corpus.json").read_text())
    docs = dest / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    sections = {}
    for key, section in corpus.items():
        text = " ".join(section["text"])
        (docs / f"{key}.md").write_text(f"# {section['title']}\n\n{text}\n", encoding="utf-8")
        sections[f"{key}.md"] = (_norm(section["title"]), _norm(text))
    with open(dest / "qa.jsonl", "w", encoding="utf-8") as out:
        for line in (SOURCE / "smart_tv_qa_repaired.jsonl").read_text().splitlines():
            qa = json.loads(line)
            leaf = _norm(qa["section_path"].split(">")[-1])
            answer = _norm(qa["answer"])[:120]
            gold = sorted(f for f, (title, text) in sections.items() if title == leaf or (answer and answer in text))
            record = {"id": qa["id"], "question": qa["question"], "file": gold, "pages": [], "key_facts": []}
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    convert(Path(sys.argv[1]))
