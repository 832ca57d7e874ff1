"""Small `lsp_*` helpers translating engine candidates and prompts into lsprotocol types.

Positions count in the client's negotiated units (`encoding`, UTF-16 unless the client chose
otherwise); `prompts.utf16_len` does the counting.
"""

from __future__ import annotations

from lsprotocol import types

from ..prompts import Prompt, first_line, import_line, indent_code, missing_imports, split_lines, utf16_len
from ..ranking import Candidate

CODE_ACTION_KIND = "refactor.rewrite.codefusion"
MARKDOWN_FENCE = {"python": "python", "bash": "bash", "cf": "text"}


def lsp_line_range(lines: list[str], line: int, encoding: str) -> types.Range:
    """The whole content of `line` (not its terminator)."""
    end = utf16_len(lines[line], encoding) if line < len(lines) else 0
    return types.Range(
        start=types.Position(line=line, character=0), end=types.Position(line=line, character=end)
    )


def lsp_documentation(candidate: Candidate, lang: str, markdown: bool = True) -> types.MarkupContent:
    """The whole candidate, in a fenced code block when the client renders markdown."""
    if not markdown:
        return types.MarkupContent(kind=types.MarkupKind.PlainText, value=candidate.text)
    note = ""
    fence = MARKDOWN_FENCE.get(lang, "")
    if candidate.seed is not None and candidate.seed.strip() != candidate.text.strip():
        note += f"\n\n*Rewritten from a training example:*\n```{fence}\n{candidate.seed}\n```"
    elif candidate.seed is not None:
        note += ("\n\n*As in a training example (with your comment's quoted values, paths and numbers, where it had "
                 "its own).*")
    return types.MarkupContent(
        kind=types.MarkupKind.Markdown, value=f"```{fence}\n{candidate.text}\n```{note}"
    )


def lsp_detail(candidate: Candidate) -> str:
    if candidate.seed is not None:  # score = the seed example's prompt similarity (× the model's fit: `rerank`)
        return f"CodeFusion #{candidate.rank} (from an example, match {candidate.score:.2f})"
    return f"CodeFusion #{candidate.rank} (score {candidate.score:.2f})"


def lsp_completion_items(
    text: str, prompt: Prompt, candidates: list[Candidate], encoding: str, markdown: bool = True
) -> list[types.CompletionItem]:
    """Completion items replacing the cursor line's whitespace with each indented candidate."""
    lines = split_lines(text)
    edit_range = lsp_line_range(lines, prompt.insert_line, encoding)
    current = lines[prompt.insert_line] if prompt.insert_line < len(lines) else ""
    items = []
    for c in candidates:
        label = first_line(c.text)
        items.append(
            types.CompletionItem(
                label=label,
                kind=types.CompletionItemKind.Snippet,
                detail=lsp_detail(c),
                documentation=lsp_documentation(c, prompt.lang, markdown),
                sort_text=f"{c.rank:03d}",
                filter_text=current + label,  # the range holds the line's whitespace: filter must match it
                insert_text_format=types.InsertTextFormat.PlainText,
                insert_text_mode=types.InsertTextMode.AsIs,  # indentation is already applied
                text_edit=types.TextEdit(
                    range=edit_range, new_text=indent_code(c.text, prompt.indent, first_line_indented=True)
                ),
                additional_text_edits=lsp_import_edits(text, prompt, c) or None,
            )
        )
    return items


def lsp_inline_items(
    text: str, prompt: Prompt, candidates: list[Candidate], encoding: str
) -> list[types.InlineCompletionItem]:
    """Inline (ghost text) items: the same candidates, replacing the cursor line."""
    lines = split_lines(text)
    edit_range = lsp_line_range(lines, prompt.insert_line, encoding)
    return [
        types.InlineCompletionItem(
            insert_text=indent_code(c.text, prompt.indent, first_line_indented=True), range=edit_range
        )
        for c in candidates
    ]


def lsp_insert_edit(text: str, prompt: Prompt, candidate: Candidate, encoding: str) -> types.TextEdit:
    """A TextEdit putting the candidate on the line under the prompt (replacing it if blank)."""
    lines = split_lines(text)
    code = indent_code(candidate.text, prompt.indent, first_line_indented=True)
    line = prompt.insert_line
    if line >= len(lines):  # the comment is the last line and has no newline after it
        end = types.Position(line=len(lines) - 1, character=utf16_len(lines[-1], encoding))
        return types.TextEdit(range=types.Range(start=end, end=end), new_text="\n" + code)
    if not lines[line].strip():
        return types.TextEdit(range=lsp_line_range(lines, line, encoding), new_text=code)
    start = types.Position(line=line, character=0)
    return types.TextEdit(range=types.Range(start=start, end=start), new_text=code + "\n")


def lsp_import_edits(text: str, prompt: Prompt, candidate: Candidate) -> list[types.TextEdit]:
    """The `import X` lines a Python candidate needs and the document lacks (prompts.missing_imports), inserted
    after the document's imports: a completion's additionalTextEdits, a code action's first edits."""
    if prompt.lang != "python":
        return []
    needed = missing_imports(candidate.text, text)
    if not needed:
        return []
    at = types.Position(line=import_line(split_lines(text)), character=0)
    return [types.TextEdit(range=types.Range(start=at, end=at), new_text="".join(f"{i}\n" for i in needed))]


def lsp_code_action(
    title: str, uri: str, version: int | None, edit: types.TextEdit | None, data: object = None,
    imports: list[types.TextEdit] | None = None,
) -> types.CodeAction:
    workspace_edit = None
    if edit is not None:
        doc = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        workspace_edit = types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=doc, edits=[*(imports or []), edit])]
        )
    return types.CodeAction(title=title, kind=CODE_ACTION_KIND, edit=workspace_edit, data=data)


def no_candidate(found: int, index: int) -> str:
    """What the user is told when the action they chose has no candidate behind it."""
    if found == 0:
        return ("CodeFusion: none of the candidates generated for this comment parsed, so nothing was inserted; "
                "try rewording the comment")
    return (f"CodeFusion: only {found} candidate{'s' if found > 1 else ''} for this comment parsed, so candidate "
            f"{index + 1} has nothing to insert; choose another")


def action_title(candidate: Candidate | None, index: int) -> str:
    if candidate is None:
        return f"Generate from comment (candidate {index + 1})"
    return f"Generate from comment: {first_line(candidate.text, 60)}"
