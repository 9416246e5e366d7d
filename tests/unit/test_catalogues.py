"""The pages' translation catalogues are whole: every key in English, Urdu and Spanish; every key
a page's HTML or JavaScript names exists in its catalogue; every error code the server can send
has its words in the shared error catalogue (issue 25). Read by Node, exactly as a browser would."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "console_api" / "web" / "static"
TEMPLATES = ROOT / "console_api" / "web" / "templates"
LANGUAGES = ("en", "ur", "es")
#: Packages whose errors leave the server as problem+json with a ``code``.
SERVER_PACKAGES = ("console_api", "identity", "data", "dispatch", "facilities", "care", "realtime",
                   "messaging", "geocoding", "fleet_coverage", "routing")
READ = """
const fs = require("fs"), vm = require("vm");
const window = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), { window });
process.stdout.write(JSON.stringify(Object.values(window)[0]));
"""


def catalogue(name: str) -> dict[str, dict[str, str]]:
    """``static/i18n/<name>.js`` as the browser sees it: {language: {key: text}}."""
    node = shutil.which("node")
    assert node, "node is needed by `make web` and by this test"
    out = subprocess.run([node, "-e", READ, str(STATIC / "i18n" / f"{name}.js")],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return json.loads(out)


def pages() -> dict[str, tuple[str, list[Path]]]:
    """Each page template: its catalogue's name and the JS modules it loads (with their imports)."""
    found = {}
    for html in sorted(TEMPLATES.glob("*.html")):
        text = html.read_text(encoding="utf-8")
        names = re.findall(r'src="/static/i18n/(\w+)\.js"', text)
        assert len(names) == 1, f"{html.name}: one catalogue per page, found {names}"
        modules: list[Path] = []
        todo = re.findall(r'<script type="module" src="/static/([\w-]+\.js)"', text)
        while todo:
            path = STATIC / todo.pop()
            if path in modules:
                continue
            modules.append(path)
            todo += re.findall(r'from "/static/([\w-]+\.js)"', path.read_text(encoding="utf-8"))
        found[html.name] = (names[0], modules)
    return found


PAGES = pages()
ATTRIBUTE_KEYS = re.compile(r'data-i18n(?:-placeholder|-aria-label|-title)?="([^"$]+)"')
CALL_KEYS = re.compile(r'(?<![\w$])t\(\s*"([^"]+)"')


def test_every_page_has_a_catalogue_and_the_console_is_among_them():
    assert {name for name, _ in PAGES.values()} >= {"console", "sos", "patient", "doctor",
                                                      "hospital", "crew"}


@pytest.mark.parametrize("name", sorted({name for name, _ in PAGES.values()} | {"errors"}))
def test_every_key_is_in_all_three_languages(name):
    words = catalogue(name)
    assert set(words) == set(LANGUAGES), f"{name}: languages {sorted(words)}"
    every = set().union(*(set(words[lang]) for lang in LANGUAGES))
    for lang in LANGUAGES:
        missing = sorted(every - set(words[lang]))
        assert not missing, f"{name}.{lang} lacks {missing}"
        empty = sorted(k for k, v in words[lang].items() if not str(v).strip())
        assert not empty, f"{name}.{lang} has empty texts {empty}"


@pytest.mark.parametrize("template", sorted(PAGES))
def test_every_key_a_page_names_is_in_its_catalogue(template):
    name, modules = PAGES[template]
    known = set(catalogue(name)["en"])
    used: dict[str, str] = {}
    for key in ATTRIBUTE_KEYS.findall((TEMPLATES / template).read_text(encoding="utf-8")):
        used[key] = template
    for module in modules:
        text = module.read_text(encoding="utf-8")
        for key in ATTRIBUTE_KEYS.findall(text) + CALL_KEYS.findall(text):
            used[key] = module.name
    assert used, f"{template} names no catalogue key"
    missing = {key: where for key, where in used.items() if key not in known}
    assert not missing, f"{template} ({name} catalogue) lacks {missing}"


def server_error_codes() -> set[str]:
    """Every ``code="..."`` passed to an error, and every error class's ``code``."""
    codes: set[str] = set()
    for package in SERVER_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    codes.update(kw.value.value for kw in node.keywords if kw.arg == "code"
                                 and isinstance(kw.value, ast.Constant)
                                 and isinstance(kw.value.value, str))
                if isinstance(node, ast.ClassDef):
                    for statement in node.body:
                        if (isinstance(statement, ast.Assign)
                                and isinstance(statement.value, ast.Constant)
                                and any(isinstance(t, ast.Name) and t.id == "code"
                                        for t in statement.targets)):
                            codes.add(statement.value.value)
    from console_api.problems import HTTP_CODES

    return codes | set(HTTP_CODES.values()) | {"http_error"}


def test_every_server_error_code_is_translated():
    codes = server_error_codes()
    assert {"case_not_found", "invalid_credentials", "validation_error", "rate_limited"} <= codes
    words = catalogue("errors")
    for lang in LANGUAGES:
        missing = sorted(c for c in codes if f"code.{c}" not in words[lang])
        assert not missing, f"errors.{lang} lacks codes {missing}"


def test_common_js_words_are_in_the_error_catalogue():
    text = (STATIC / "common.js").read_text(encoding="utf-8")
    used = set(re.findall(r'sharedText\(\s*"([^"]+)"', text)) | {"http"}
    used |= {f"role.{r}" for r in ("emergency_operator", "hospital_admin", "doctor", "patient")}
    missing = used - set(catalogue("errors")["en"])
    assert not missing, f"errors catalogue lacks {sorted(missing)}"
