"""Every cross-reference of the site links: public names under their import path, and the rest.

The API pages document each class in the module that defines it (``gdl.latent.vae.BetaVAE``),
while readers and the chapters use the path they import it from (``gdl.latent.BetaVAE``,
``gdl.BetaVAE``, ``gdl.fit``). This extension

* registers every public name of :mod:`gdl` and of its submodules (their ``__all__``) in the
  Python domain under its import path, members included, so ``gdl.latent.BetaVAE.elbo`` is an
  object of the site (in its search and its ``objects.inv``) that points at the documented one;
* resolves what the docstrings write in short, by the rules a reader would use: a gdl name given
  without its module (``GAN.train_step`` in a docstring of :mod:`gdl.gan`), and torch's own
  names as torch's documentation spells them (``torch.nn.modules.module.Module`` and the
  ``Module`` of torch's inherited docstrings are ``torch.nn.Module``).

With ``nitpicky = True`` (docs/conf.py) any reference still unresolved fails the ``-W`` build.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: Names torch's inherited docstrings and stringified annotations use, and the object they mean.
TORCH_SHORT = {
    "Module": "torch.nn.Module",
    "nn.Module": "torch.nn.Module",
    "Tensor": "torch.Tensor",
    "np.ndarray": "numpy.ndarray",
    "torch._C.Generator": "torch.Generator",
}
#: Where torch's public names live, tried in turn for ``torch.<private path>.<Name>``.
TORCH_PUBLIC = ("torch", "torch.nn", "torch.optim", "torch.distributions", "torch.optim.swa_utils")


def public_aliases() -> dict[str, str]:
    """``{import path: defining path}`` for every public name of gdl whose paths differ."""
    import gdl

    gdl.import_all()
    out: dict[str, str] = {}
    modules = [("gdl", gdl, list(gdl.__all__))]
    for name in gdl.MODULES:
        mod = importlib.import_module(f"gdl.{name}")
        modules.append((f"gdl.{name}", mod, list(getattr(mod, "__all__", []))))
    for path, mod, names in modules:
        for name in names:
            obj = getattr(mod, name, None)
            if isinstance(obj, type(importlib)):
                continue  # a submodule
            where, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if isinstance(where, str) and isinstance(qual, str):
                if not where.startswith("gdl"):
                    continue
                canonical = f"{where}.{qual}"
            else:  # data: the deepest gdl module that lists it in its __all__
                owners = [
                    m.__name__ for m in list(sys.modules.values())
                    if getattr(m, "__name__", "").startswith(path + ".")
                    and name in getattr(m, "__all__", ()) and getattr(m, name, None) is obj
                ]
                if not owners:
                    continue
                canonical = f"{max(owners, key=len)}.{name}"
            if canonical != f"{path}.{name}":
                out[f"{path}.{name}"] = canonical
    return out


def register_aliases(app, env) -> None:
    """After reading: document each public name under its import path too (members included)."""
    domain = env.domains["py"]
    objects = domain.objects
    entry_type = type(next(iter(objects.values()))) if objects else None
    if entry_type is None:
        return
    added = 0
    for alias, canonical in public_aliases().items():
        prefix = canonical + "."
        for name, entry in list(objects.items()):
            if name == canonical or name.startswith(prefix):
                new = alias + name[len(canonical):]
                if new not in objects:
                    objects[new] = entry_type(entry.docname, entry.node_id, entry.objtype, True)
                    added += 1
    logger.verbose(f"gdl_refs: {added} objects registered under their import path")


def import_paths() -> dict[str, str]:
    """``{defining path: import path}`` for the classes and functions a subpackage re-exports
    (``gdl.latent.vae.BetaVAE`` -> ``gdl.latent.BetaVAE``): the path the API pages show."""
    import gdl

    out = {}
    for alias, canonical in public_aliases().items():
        module = alias.rpartition(".")[0]
        if module != "gdl" and canonical.rpartition(".")[0] != module:
            out.setdefault(canonical, alias)
    top = {f"gdl.{m}" for m in gdl.MODULES}
    return {c: a for c, a in out.items() if c.rpartition(".")[0] not in top}


def show_import_path(app, domain, objtype, content) -> None:
    """Write each re-exported object's signature under its import path (the anchors and the
    defining path stay, so both names link)."""
    if domain != "py":
        return
    from sphinx import addnodes

    paths = getattr(app, "_gdl_import_paths", None)
    if paths is None:
        paths = app._gdl_import_paths = import_paths()
    for sig in content.parent.findall(addnodes.desc_signature):
        fullname = f"{sig.get('module')}.{sig.get('fullname')}"
        if fullname not in paths or "." in (sig.get("fullname") or ""):
            continue
        for addname in sig.findall(addnodes.desc_addname):
            module = paths[fullname].rpartition(".")[0] + "."
            addname.replace_self(addnodes.desc_addname(module, module))
            break


def _candidates(env, node, target: str) -> Iterator[str]:
    target = target.lstrip("~.")
    if target in TORCH_SHORT:
        yield TORCH_SHORT[target]
    if target.startswith("torch."):
        last = target.rsplit(".", 1)[-1]
        for where in TORCH_PUBLIC:
            yield f"{where}.{last}"
        return
    if target.startswith("gdl"):
        # A method that a class inherits: the class that defines it, if that one is documented.
        yield from _defining_class(target)
        return
    # A gdl name without its module: search the documented names ending with it, nearest first
    # (the docstring's own module, then its package, then all of gdl); only an unambiguous match.
    suffix = "." + target
    matches = [n for n in env.domains["py"].objects if n.startswith("gdl.") and n.endswith(suffix)]
    module = node.get("py:module") or ""
    scopes = []
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        scopes.append(".".join(parts[:i]) + ".")
    scopes.append("gdl.")
    for scope in scopes:
        inside = sorted({n for n in matches if n.startswith(scope)})
        # The same object under several names (its module and its aliases): take the defining one.
        defining = [n for n in inside if not env.domains["py"].objects[n].aliased]
        if len(defining) == 1:
            yield defining[0]
            return
        if len(defining) > 1:
            return


def _defining_class(target: str) -> Iterator[str]:
    parent, _, member = target.rpartition(".")
    obj = None
    for i in range(parent.count(".") , 0, -1):  # the longest importable module prefix
        module, rest = parent.split(".")[:i], parent.split(".")[i:]
        try:
            obj = importlib.import_module(".".join(module))
        except ImportError:
            continue
        for part in rest:
            obj = getattr(obj, part, None)
        break
    if isinstance(obj, type):
        for klass in obj.__mro__[1:]:
            if member in vars(klass):
                yield f"{klass.__module__}.{klass.__qualname__}.{member}"
                return


def skip_base_members(app, what, name, obj, skip, options):
    """With ``:inherited-members:``, leave out what the contract (:mod:`gdl.base`) defines: it is
    documented once, on its own page), and what other projects define; what a class inherits from
    a private base stays."""
    where = getattr(obj, "__module__", None) or ""
    if isinstance(options, dict):  # before Sphinx 9, the options were a mapping
        inherited = options.get("inherited-members")
    else:
        inherited = getattr(options, "inherited_members", None)
    if inherited and (where == "gdl.base" or not where.startswith("gdl")):
        return True
    return None


def resolve(app, env, node, contnode):
    """``missing-reference``: try the short forms' full names, in the site and in intersphinx."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.ext import intersphinx

    domain = env.domains["py"]
    for cand in _candidates(env, node, node["reftarget"]):
        new = node.deepcopy()
        new["reftarget"] = cand
        new["refspecific"] = False
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], cand, new, contnode)
        if found is None and cand.startswith(("torch", "numpy")):
            found = intersphinx.missing_reference(app, env, new, contnode)
        if found is not None:
            return found
    return None


class PublicNames(SphinxDirective):
    """A table of the names ``import gdl`` gives, each linked to its entry, with its summary."""

    def run(self):
        import inspect

        import gdl

        rows = ["| Name | What it is |", "|---|---|"]
        for name in sorted(gdl._NAMES, key=str.lower):
            obj = getattr(gdl, name)
            role = "class" if isinstance(obj, type) else "func"
            summary = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ").replace("|", r"\|")
            rows.append(f"| {{py:{role}}}`gdl.{name}` | {summary} |")
        text = "The names that ``import gdl`` gives:\n\n" + "\n".join(rows)
        return self.parse_text_to_nodes(text)


def public_bases(app, name, obj, options, bases: list) -> None:
    """Show a class's public ancestors in its "Bases:" line: a private base of gdl's (say
    ``_LatentModel``) is replaced by the classes it derives from, which have a page to link to."""
    i = 0
    while i < len(bases):
        base = bases[i]
        private = getattr(base, "__name__", "").startswith("_")
        if private and getattr(base, "__module__", "").startswith("gdl") and base.__bases__ != (object,):
            bases[i:i + 1] = [b for b in base.__bases__ if b not in bases]
        else:
            i += 1


def setup(app):
    app.connect("env-updated", register_aliases)
    app.connect("autodoc-process-bases", public_bases)
    app.connect("autodoc-skip-member", skip_base_members)
    app.connect("object-description-transform", show_import_path)
    app.add_directive("gdl-public-names", PublicNames)
    app.connect("missing-reference", resolve, priority=800)  # after intersphinx (500)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
