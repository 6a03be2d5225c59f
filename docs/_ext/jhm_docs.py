"""Reference material generated from jhub-managed's own code, so the code stays the one source.

Directives (usable from MyST as ```` ```{name} ````):

``settings-schema``
    The settings document's JSON Schema (argument: dotted path of the schema dict) as one
    section per object, each with a table of its keys, types, constraints and descriptions.
``service-scopes``
    The hub API scopes each jhub-managed service is granted
    (``jhub_managed.scopes.SERVICE_SCOPES``).
``cli-options``
    Usage line and options of a ``jhub-managed`` subcommand, read from its argparse parser
    (argument: ``module:function`` returning the parser, then the subcommand name).

Role:

``jhm-value``
    The value of a module-level constant as inline code, e.g.
    ``{jhm-value}`jhub_managed.hub.SETTINGS_SCOPE```.

And one option for autodoc-traits' ``autoconfigurable``:

``:trait-module: jhub_managed``
    Document only the configurable traits defined in classes of that package, leaving out
    the hundreds a class inherits from KubeSpawner or JupyterHub's Authenticator.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autodoc_traits import ConfigurableDocumenter, TraitDocumenter
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.ext.autodoc import AttributeDocumenter
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective, SphinxRole
from traitlets import DefaultHandler, HasTraits, TraitType, Undefined
from traitlets.config import Configurable

from jhub_managed.settings.schemawalk import subschemas


def note_module(directive: SphinxDirective | SphinxRole, module_name: str) -> None:
    """Rebuild the page when the module it is generated from changes."""
    module = importlib.import_module(module_name)
    if getattr(module, "__file__", None):
        directive.env.note_dependency(module.__file__)


def _module_of(path: str) -> str:
    return path.partition(":")[0] if ":" in path else path.rpartition(".")[0]


def import_object(path: str) -> Any:
    """``package.module.NAME`` or ``package.module:NAME`` -> the object."""
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# -- inline helpers -------------------------------------------------------------------------

_CODE = re.compile(r"``(.+?)``|`([^`]+)`")


def inline_text(text: str) -> list[nodes.Node]:
    """Plain text with ``code`` or `code` spans as literal nodes."""
    result: list[nodes.Node] = []
    pos = 0
    for match in _CODE.finditer(text):
        if match.start() > pos:
            result.append(nodes.Text(text[pos : match.start()]))
        result.append(nodes.literal(text=match.group(1) or match.group(2)))
        pos = match.end()
    if pos < len(text):
        result.append(nodes.Text(text[pos:]))
    return result


def paragraph(*parts: nodes.Node | str) -> nodes.paragraph:
    para = nodes.paragraph()
    for part in parts:
        para += nodes.Text(part) if isinstance(part, str) else part
    return para


def table(headers: list[str], rows: list[list[list[nodes.Node]]], widths: list[int]) -> nodes.table:
    tbl = nodes.table(classes=["jhm-table"])
    group = nodes.tgroup(cols=len(headers))
    tbl += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for header in headers:
        row += nodes.entry("", nodes.paragraph(text=header))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            if cell:
                para = nodes.paragraph()
                para.extend(cell)
                entry += para
            row += entry
        body += row
    return tbl


# -- the settings schema ------------------------------------------------------------------


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s"):
        return name[:-1]
    return name


def _is_object_section(schema: Any) -> bool:
    return isinstance(schema, dict) and "properties" in schema


class _SchemaObject:
    """One object of the schema, shown as one section."""

    def __init__(self, schema: dict, name: str, pointer: str, section_id: str):
        self.schema = schema
        self.name = name
        self.pointers = [pointer]
        self.section_id = section_id

    @property
    def title(self) -> str:
        if not self.pointers[0]:
            return "The settings document"
        return self.name.replace("_", " ").capitalize()


class SchemaRenderer:
    """Walks a JSON Schema and renders its objects as sections of tables."""

    def __init__(self, schema: dict, id_prefix: str):
        self.schema = schema
        self.id_prefix = id_prefix
        self.objects: dict[int, _SchemaObject] = {}
        self.order: list[_SchemaObject] = []
        self._collect(schema, "document", "")

    # walking: find every object once, in document order, and every place it is used
    def _collect(self, schema: Any, name: str, pointer: str) -> None:
        if not isinstance(schema, dict):
            return
        if _is_object_section(schema):
            known = self.objects.get(id(schema))
            if known is not None:
                known.pointers.append(pointer)
                return
            section_id = f"{self.id_prefix}-{name.replace('_', '-')}"
            taken = {o.section_id for o in self.order}
            while section_id in taken:
                section_id += "-x"
            obj = _SchemaObject(schema, name, pointer, section_id)
            self.objects[id(schema)] = obj
            self.order.append(obj)
        singular = _singular(name)
        for keyword, key, sub in subschemas(schema):
            if keyword == "properties":
                self._collect(sub, key, f"{pointer}/{key}")
            elif keyword in ("anyOf", "oneOf"):
                self._collect(sub, name, pointer)
            elif keyword == "items":
                self._collect(sub, singular, f"{pointer}/<n>")
            elif keyword == "additionalProperties":
                placeholder = singular.rsplit("_", 1)[-1]
                self._collect(sub, singular, f"{pointer}/<{placeholder}>")

    # types
    def type_nodes(self, schema: Any) -> list[nodes.Node]:
        if not isinstance(schema, dict):
            return [nodes.Text("any")]
        obj = self.objects.get(id(schema))
        if obj is not None:
            ref = nodes.reference("", "", internal=True, refid=obj.section_id)
            ref += nodes.Text(obj.title.lower())
            return [nodes.Text("object: "), ref]
        if "anyOf" in schema or "oneOf" in schema:
            out: list[nodes.Node] = []
            for i, sub in enumerate(schema.get("anyOf") or schema.get("oneOf")):
                if i:
                    out.append(nodes.Text(" or "))
                out += self.type_nodes(sub)
            return out
        if "enum" in schema:
            out = [nodes.Text("one of ")]
            for i, value in enumerate(schema["enum"]):
                if i:
                    out.append(nodes.Text(", "))
                out.append(nodes.literal(text=_json(value)))
            return out
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind else []
        if "array" in kinds and isinstance(schema.get("items"), dict):
            return [nodes.Text("array of "), *self.type_nodes(schema["items"])]
        if "object" in kinds and isinstance(schema.get("additionalProperties"), dict):
            return [nodes.Text("map of "), *self.type_nodes(schema["additionalProperties"])]
        if not kinds:
            return [nodes.Text("any")]
        return [nodes.Text(" or ".join(kinds))]

    # constraints in words
    def constraints(self, schema: Any) -> list[str]:
        if not isinstance(schema, dict) or id(schema) in self.objects:
            return []
        words: list[str] = []
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if lo and hi:
            words.append(f"{lo} to {hi} characters")
        elif hi:
            words.append(f"at most {hi} characters")
        elif lo:
            words.append(f"at least {lo} characters")
        if "pattern" in schema:
            words.append(f"matches ``{schema['pattern']}``")
        if "format" in schema:
            words.append(
                {"date-time": "a date and time (RFC 3339)"}.get(schema["format"], schema["format"])
            )
        if "minimum" in schema:
            words.append(f"at least {schema['minimum']}")
        if "maximum" in schema:
            words.append(f"at most {schema['maximum']}")
        if "maxItems" in schema:
            words.append(f"at most {schema['maxItems']} items")
        if schema.get("uniqueItems"):
            words.append("no duplicates")
        if "maxProperties" in schema:
            words.append(f"at most {schema['maxProperties']} entries")
        names = schema.get("propertyNames") or {}
        if "pattern" in names:
            words.append(f"keys match ``{names['pattern']}``")
        items = schema.get("items")
        if isinstance(items, dict):
            inner = self.constraints(items)
            if inner:
                words.append("each " + ", ".join(inner))
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and not schema.get("properties"):
            inner = self.constraints(values)
            if inner:
                words.append("values " + ", ".join(inner))
        for key in ("anyOf", "oneOf"):
            for sub in schema.get(key, []):
                inner = self.constraints(sub)
                if inner:
                    kind = sub.get("type", "value")
                    words.append(f"as {kind}: " + ", ".join(inner))
        return words

    def describe(self, schema: Any) -> list[nodes.Node]:
        text = schema.get("description", "") if isinstance(schema, dict) else ""
        words = self.constraints(schema)
        if words:
            rule = "; ".join(words)
            rule = rule[0].upper() + rule[1:] + "."
            text = f"{text} {rule}" if text else rule
        return inline_text(text)

    def section(self, obj: _SchemaObject) -> nodes.section:
        section = nodes.section(ids=[obj.section_id])
        section += nodes.title(text=obj.title)
        where = paragraph("At ")
        for i, pointer in enumerate(obj.pointers):
            if i:
                where += nodes.Text(", " if i < len(obj.pointers) - 1 else " and ")
            where += nodes.literal(text=pointer or "/")
        where += nodes.Text(".")
        section += where
        schema = obj.schema
        if schema.get("description"):
            section += paragraph(*inline_text(schema["description"]))
        required = set(schema.get("required") or [])
        rows = []
        for key, sub in schema["properties"].items():
            rows.append(
                [
                    [nodes.literal(text=key)],
                    [nodes.Text("yes" if key in required else "")],
                    self.type_nodes(sub),
                    self.describe(sub),
                ]
            )
        section += table(["Key", "Required", "Type", "Description"], rows, [18, 8, 22, 52])
        extra = schema.get("additionalProperties", True)
        if extra is False:
            section += paragraph("No other keys are allowed.")
        elif extra is True:
            section += paragraph("Other keys are allowed and passed on unchecked.")
        return section

    def render(self) -> list[nodes.Node]:
        return [self.section(obj) for obj in self.order]


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


class SettingsSchemaDirective(SphinxDirective):
    """``settings-schema`` with the schema's dotted path as the argument."""

    required_arguments = 1
    option_spec = {"id-prefix": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        schema = import_object(self.arguments[0])
        note_module(self, _module_of(self.arguments[0]))
        prefix = self.options.get("id-prefix", "schema")
        return SchemaRenderer(schema, prefix).render()


# -- service scopes -----------------------------------------------------------------------


class ServiceScopesDirective(SphinxDirective):
    """The hub API scopes of each service, and where it is served."""

    def run(self) -> list[nodes.Node]:
        from jhub_managed.scopes import SERVICE_NAMES, SERVICE_SCOPES

        note_module(self, "jhub_managed.scopes")
        rows = []
        for name in SERVICE_NAMES:
            scopes: list[nodes.Node] = []
            for i, scope in enumerate(SERVICE_SCOPES[name]):
                if i:
                    scopes.append(nodes.Text(", "))
                scopes.append(nodes.literal(text=scope))
            rows.append(
                [[nodes.literal(text=name)], [nodes.literal(text=f"/services/{name}/")], scopes]
            )
        return [table(["Service", "Prefix", "Hub API scopes it holds"], rows, [15, 25, 60])]


# -- command-line options -------------------------------------------------------------------


_HOME = "/jhm-docs-home"


def _unhome(text: str) -> str:
    return text.replace(_HOME, "~")


@contextmanager
def _neutral_home() -> Iterator[None]:
    """Defaults that depend on the home directory show as ``~/...``, not the builder's home."""
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_DATA_HOME")}
    os.environ["HOME"] = _HOME
    os.environ.pop("XDG_DATA_HOME", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    raise ValueError(f"{parser.prog} has no subcommand {name!r}")


class CLIOptionsDirective(SphinxDirective):
    """``cli-options`` ``module:build_parser`` ``subcommand``."""

    required_arguments = 2

    def run(self) -> list[nodes.Node]:
        with _neutral_home():
            parser = import_object(self.arguments[0])()
        note_module(self, _module_of(self.arguments[0]))
        sub = _subparser(parser, self.arguments[1])
        usage = _unhome(sub.format_usage().strip())
        usage = usage[len("usage: ") :] if usage.startswith("usage: ") else usage
        result: list[nodes.Node] = [nodes.literal_block(usage, usage, language="text")]
        rows = []
        for action in sub._actions:
            if not action.option_strings:
                continue
            names: list[nodes.Node] = []
            for i, option in enumerate(action.option_strings):
                if i:
                    names.append(nodes.Text(", "))
                text = option
                if action.nargs != 0:
                    text += f" {action.metavar or action.dest.upper()}"
                names.append(nodes.literal(text=text))
            help_text = _unhome((action.help or "") % {"default": action.default, "prog": sub.prog})
            help_text = re.sub(r"\s*\(default: [^)]*\)", "", help_text)
            default = action.default
            shown_default: list[nodes.Node] = []
            if default not in (None, False, argparse.SUPPRESS) and action.nargs != 0:
                shown_default = [nodes.literal(text=_unhome(str(default)))]
            rows.append([names, shown_default, inline_text(help_text[:1].upper() + help_text[1:])])
        result.append(table(["Option", "Default", "What it does"], rows, [28, 30, 42]))
        return result


# -- a constant's value ---------------------------------------------------------------------


class ValueRole(SphinxRole):
    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        try:
            value = import_object(self.text)
        except (ImportError, AttributeError) as e:
            msg = self.inliner.reporter.error(
                f"jhm-value: can't import {self.text}: {e}", line=self.lineno
            )
            return [], [msg]
        note_module(self, _module_of(self.text))
        text = f"{value:,}" if isinstance(value, int) else str(value)
        return [nodes.literal(self.rawtext, text)], []


# -- autoconfigurable :trait-module: ----------------------------------------------------------


class ManagedConfigurableDocumenter(ConfigurableDocumenter):
    """autodoc-traits' ``autoconfigurable``, with ``:trait-module:`` to leave out inherited
    traits of other packages."""

    option_spec = {**ConfigurableDocumenter.option_spec, "trait-module": directives.unchanged}

    def format_signature(self, **kwargs: Any) -> str:
        # configurable classes are configured through ``c.<Class>``, not constructed by users
        return ""

    def get_object_members(self, want_all):
        check, members = super().get_object_members(want_all)
        package = self.options.get("trait-module")
        if not package:
            return check, members

        def ours(member) -> bool:
            obj = member.object if hasattr(member, "object") else member[1]
            if not isinstance(obj, TraitType):
                return True
            module = getattr(getattr(obj, "this_class", None), "__module__", "")
            return module == package or module.startswith(package + ".")

        return check, [m for m in members if ours(m)]

    def sort_members(self, documenters, order):
        """``bysource`` across a class made of option groups (plain ``HasTraits`` mixins, one
        module each): the class's own members first, then each group's in the order of its
        bases, each in its source order."""
        documenters = super().sort_members(documenters, order)
        if order != "bysource" or not _option_groups(getattr(self.object, "__bases__", ())):
            return documenters
        mro = self.object.__mro__

        def key(entry) -> tuple[int, int]:
            name = entry[0].name.rpartition(".")[2]
            for depth, cls in enumerate(mro):
                if name in vars(cls):
                    try:
                        tags = ModuleAnalyzer.for_module(cls.__module__).tagorder
                    except PycodeError:
                        tags = {}
                    return depth, tags.get(f"{cls.__qualname__}.{name}", len(tags))
            return len(mro), 0

        return sorted(documenters, key=key)


def _option_groups(bases) -> list[type]:
    """The option groups among ``bases``: ``HasTraits`` mixins of this package, documented as
    the options of the configurable made of them."""
    return [
        base
        for base in bases
        if isinstance(base, type)
        and issubclass(base, HasTraits)
        and not issubclass(base, Configurable)
        and base.__module__.startswith("jhub_managed.")
    ]


def _option_groups_left_out(app, name, obj, options, bases: list) -> None:
    """A configurable's bases without its option groups."""
    groups = _option_groups(bases)
    bases[:] = [base for base in bases if base not in groups]


class ManagedTraitDocumenter(TraitDocumenter):
    """autodoc-traits' trait header, with two defaults shown as they are at run time.

    Containers (``List``, ``Dict``) keep their default outside ``default_value``, so
    autodoc-traits shows ``Dict()`` for a non-empty default: show the real one. A default
    computed by a ``@default`` method is only known at run time: show no value rather than the
    trait's placeholder; the help says what the default is.
    """

    def add_directive_header(self, sig):
        trait = self.object
        name = self.objpath[-1]
        dynamic = any(
            isinstance(vars(cls).get("_trait_default_generators", {}).get(name), DefaultHandler)
            for cls in getattr(self.parent, "__mro__", ())
        )
        if dynamic:
            default = ""
        elif trait.default_value is Undefined:
            try:
                default = repr(trait.default())
            except Exception:
                default = ""
        else:
            default = repr(trait.default_value)
        if default in ("{}", "[]", "set()"):
            default = ""
        prefix = f"c.{self.format_name()} = " if trait.metadata.get("config") else ""
        self.options.annotation = f"{prefix}{trait.__class__.__name__}({default})"
        AttributeDocumenter.add_directive_header(self, sig)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("autodoc_traits")
    app.add_autodocumenter(ManagedConfigurableDocumenter, override=True)
    app.add_autodocumenter(ManagedTraitDocumenter, override=True)
    app.connect("autodoc-process-bases", _option_groups_left_out)
    app.add_directive("settings-schema", SettingsSchemaDirective)
    app.add_directive("service-scopes", ServiceScopesDirective)
    app.add_directive("cli-options", CLIOptionsDirective)
    app.add_role("jhm-value", ValueRole())
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
