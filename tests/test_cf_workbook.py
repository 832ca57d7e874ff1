"""Writing CF rules into workbooks: read-back, safety on every fault, the service, the CLI, LibreOffice."""

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import zipfile

import pytest
from codefusion.model.cf import (
    CFSyntaxError,
    CFWorkbookError,
    apply_rule_to_workbook,
    default_range,
    format_rule,
    parse_rule,
    preview,
    rule_to_openpyxl,
    rules_from_worksheet,
)
from codefusion.server import cf_service
from codefusion.server.cli import cf as cli_cf
from openpyxl import Workbook, load_workbook

ONE_OF_EACH = [
    "GreaterThan(500)", "LessThanEqual(-1.5)", "NotEquals(0)", "Between(400, 800)", "TextContains(a*b)",
    'TextEquals("Say ""hi""")', "TextStartsWith(x)", "TextEndsWith(y)", "top(10)", "bottom(10%)",
    "aboveAverage()", "belowAverage()", "Duplicate()", "Unique()", "Blanks()", "Errors()", "ColorScale()",
    "DataBar()", "IconSet()", "AND(NOT(Blanks()),OR(LessThan(5),TextContains(FB)))",
]


@pytest.fixture
def book(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws["A1"], ws["B1"] = "Region", "Sales"
    for row, (region, sales) in enumerate([("N", 120), ("S", 650), ("E", None), ("W", 980), ("C", "n/a")], 2):
        ws.cell(row, 1, region)
        ws.cell(row, 2, sales)
    ws["C2"] = "=B2*2"
    other = wb.create_sheet("Notes")
    other["A1"] = "keep me"
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def test_each_rule_writes_and_reads_back(tmp_path):
    wb = Workbook()
    for text in ONE_OF_EACH:
        wb.active.conditional_formatting.add("B2:B9", rule_to_openpyxl(parse_rule(text), "B2:B9"))
    wb.save(tmp_path / "all.xlsx")
    back = rules_from_worksheet(load_workbook(tmp_path / "all.xlsx").active)
    assert [format_rule(r.rule) for r in back if r.rule] == [format_rule(parse_rule(t)) for t in ONE_OF_EACH]


def test_apply_keeps_everything_else_and_a_backup(book):
    original = book.read_bytes()
    result = apply_rule_to_workbook(book, "Sales", "B2:B6", "greaterthan(500)", "fill=#C6EFCE")
    assert result.rule == "GreaterThan(500)" and result.preview.addresses == ["B3", "B5"]
    assert (book.parent / "book.xlsx.bak").read_bytes() == original
    apply_rule_to_workbook(book, "Sales", "B2:B6", "Blanks()")
    assert (book.parent / "book.xlsx.bak").read_bytes() == original  # the .bak is made once
    wb = load_workbook(book)
    assert wb.sheetnames == ["Sales", "Notes"] and wb["Notes"]["A1"].value == "keep me"
    assert wb["Sales"]["C2"].value == "=B2*2"
    rules = rules_from_worksheet(wb["Sales"])
    assert [format_rule(r.rule) for r in rules if r.rule] == ["GreaterThan(500)", "Blanks()"]
    assert not [p for p in os.listdir(book.parent) if p.startswith(".~cf-")]  # no temp file left


def test_preview_and_default_range(book):
    assert default_range(book) == ("Sales", "A2:A6")
    p = preview(book, "Sales", "B2:B6", "LessThan(700)")
    assert (p.count, p.total, p.addresses) == (2, 5, ["B2", "B3"])


def _fault(book, kind):
    """Set up one fault; returns the arguments for apply_rule_to_workbook."""
    args = [book, "Sales", "B2:B6", "GreaterThan(1)"]
    if kind == "excel-lock":
        (book.parent / "~$book.xlsx").write_text("")
    elif kind == "libreoffice-lock":
        (book.parent / ".~lock.book.xlsx#").write_text("")
    elif kind == "read-only":
        book.chmod(0o444)
    elif kind == "corrupt":
        book.write_bytes(book.read_bytes()[:300])
    elif kind == "encrypted":
        book.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    elif kind == "not-a-workbook-inside":
        with zipfile.ZipFile(book, "w") as z:
            z.writestr("hello.txt", "not excel")
    elif kind == "bad-sheet":
        args[1] = "Nope"
    elif kind == "bad-range":
        args[2] = "B2:"
    elif kind == "bad-rule":
        args[3] = "GreaterThan(13 Days)"
    elif kind == "bad-style":
        args.append("fill=red")
    return args


@pytest.mark.parametrize(
    "kind",
    ["excel-lock", "libreoffice-lock", "read-only", "corrupt", "encrypted", "not-a-workbook-inside",
     "bad-sheet", "bad-range", "bad-rule", "bad-style"],
)
def test_every_fault_leaves_the_original_byte_identical(book, kind):
    args = _fault(book, kind)
    before = book.read_bytes()
    with pytest.raises((CFWorkbookError, CFSyntaxError)) as info:
        apply_rule_to_workbook(*args)
    assert str(info.value)
    assert book.read_bytes() == before
    assert not (book.parent / "book.xlsx.bak").exists()
    assert not [p for p in os.listdir(book.parent) if p.startswith(".~cf-")]


def test_missing_file(tmp_path):
    with pytest.raises(CFWorkbookError, match="no such file"):
        apply_rule_to_workbook(tmp_path / "none.xlsx", None, None, "Blanks()")


def test_xlsm_keeps_its_macros(book, tmp_path):
    xlsm = tmp_path / "macro.xlsm"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(xlsm, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Default Extension="bin" ContentType='
                                    b'"application/vnd.ms-office.vbaProject"/></Types>')
            dst.writestr(item, data)
        dst.writestr("xl/vbaProject.bin", b"fake vba project")
    apply_rule_to_workbook(xlsm, "Sales", "B2:B6", "top(1)")
    with zipfile.ZipFile(xlsm) as z:
        assert z.read("xl/vbaProject.bin") == b"fake vba project"


def fake_generate(prompt, k):
    assert "500" in prompt
    return [("GreaterThan(500)", -1.0), ("greaterthan(500)", -0.5), ("GreaterThan(5 days)", -0.1),
            ("top(1)", -2.0)][:k]


def test_suggest_dedupes_drops_invalid_and_previews(book):
    result = cf_service.suggest(str(book), None, "B2:B6", "sales above 500", 5, fake_generate)
    assert [(c.rule, c.score, c.addresses) for c in result.candidates] == [
        ("GreaterThan(500)", -0.5, ["B3", "B5"]),
        ("top(1)", -2.0, ["B5"]),
    ]
    assert result.rejected == ["GreaterThan(5 days)"]
    json.dumps(dataclasses.asdict(result))


def test_cli_suggest_and_apply(book, capsys):
    parser = argparse.ArgumentParser()
    cli_cf.add_arguments(parser)
    args = parser.parse_args(["suggest", str(book), "--sheet", "Sales", "--range", "B2:B6", "above 500"])
    assert cli_cf.run(args, generate=fake_generate) == 0
    assert "GreaterThan(500)" in capsys.readouterr().out
    args = parser.parse_args(["apply", str(book), "--range", "B2:B6", "--rule", "TextEquals(n/a)", "--json"])
    assert cli_cf.run(args) == 0
    assert json.loads(capsys.readouterr().out)["preview"]["addresses"] == ["B6"]
    before = book.read_bytes()
    args = parser.parse_args(["apply", str(book), "--rule", "Biggest(3)"])
    assert cli_cf.run(args) == 1
    assert "unknown rule name" in capsys.readouterr().err and book.read_bytes() == before


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed; "
                    "`make system-deps` installs libreoffice-calc-nogui")
def test_libreoffice_opens_a_workbook_with_one_rule_of_each_kind(book, tmp_path):
    for text in ONE_OF_EACH:
        apply_rule_to_workbook(book, "Sales", "B2:B6", text)
    out = tmp_path / "pdf"
    done = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
         "--convert-to", "pdf", "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "book.pdf").stat().st_size > 0
    assert len(rules_from_worksheet(load_workbook(book)["Sales"])) == len(ONE_OF_EACH)
