"""Judge specs -> judges: ``keyword``, ``openai:MODEL``, and plug-ins registered by prefix.

A spec is ``PREFIX`` or ``PREFIX:ARGUMENT``. A factory is called as ``factory(argument, cache_dir=...)``
(``argument`` is ``None`` for a bare prefix). Plug-ins register in code with :func:`register_judge`, or,
so that ``c2 eval run --judge PREFIX:...`` finds them without code, as a package entry point in the
group ``c2kit.judges`` whose name is the prefix and whose object is the factory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from c2kit.errors import UserError
from c2kit.judges.base import Judge
from c2kit.judges.cache import default_cache_dir
from c2kit.judges.keyword import NAME as KEYWORD_NAME
from c2kit.judges.keyword import KeywordJudge
from c2kit.judges.keyword_v2 import NAME as KEYWORD_V2_NAME
from c2kit.judges.keyword_v2 import KeywordJudge as KeywordV2Judge
from c2kit.judges.keyword_v3 import NAME as KEYWORD_V3_NAME
from c2kit.judges.keyword_v3 import KeywordJudge as KeywordV3Judge
from c2kit.judges.keyword_v4 import NAME as KEYWORD_V4_NAME
from c2kit.judges.keyword_v4 import KeywordJudge as KeywordV4Judge

ENTRY_POINT_GROUP = "c2kit.judges"
JudgeFactory = Callable[..., Judge]  # factory(argument: str | None, *, cache_dir: Path) -> Judge


def _keyword_factory(argument: str | None, *, cache_dir: Path) -> Judge:
    if argument is not None:
        raise UserError(f"the keyword judge takes no argument: use 'keyword' or '{KEYWORD_NAME}'")
    return KeywordJudge()


def _frozen_keyword_factory(name: str, judge_class: type[Judge]) -> JudgeFactory:
    def factory(argument: str | None, *, cache_dir: Path) -> Judge:
        if argument is not None:
            raise UserError(f"the keyword judge takes no argument: use '{name}'")
        return judge_class()

    return factory


def _openai_factory(argument: str | None, *, cache_dir: Path) -> Judge:
    if not argument:
        raise UserError("the OpenAI-compatible judge needs a model: 'openai:MODEL', e.g. 'openai:gpt-4o'")
    from c2kit.judges.openai_judge import OpenAIJudge  # imports the optional openai SDK only when used

    return OpenAIJudge(argument, cache_dir=cache_dir)


def _openai_paper_factory(argument: str | None, *, cache_dir: Path) -> Judge:
    if not argument:
        raise UserError("the paper's judge needs a model: 'openai-paper:MODEL', e.g. 'openai-paper:gpt-4o'")
    from c2kit.judges.openai_judge import OpenAIJudge

    return OpenAIJudge(argument, question="paper", cache_dir=cache_dir)


def _hf_factory(argument: str | None, *, cache_dir: Path) -> Judge:
    from c2kit.judges.hf_judge import hf_factory  # imports torch/transformers only when used

    return hf_factory(argument, cache_dir=cache_dir)


def _wildguard_factory(argument: str | None, *, cache_dir: Path) -> Judge:
    from c2kit.judges.hf_judge import wildguard_factory

    return wildguard_factory(argument, cache_dir=cache_dir)


_FACTORIES: dict[str, JudgeFactory] = {"keyword": _keyword_factory, KEYWORD_NAME: _keyword_factory,
                                       KEYWORD_V2_NAME: _frozen_keyword_factory(KEYWORD_V2_NAME, KeywordV2Judge),
                                       KEYWORD_V3_NAME: _frozen_keyword_factory(KEYWORD_V3_NAME, KeywordV3Judge),
                                       KEYWORD_V4_NAME: _frozen_keyword_factory(KEYWORD_V4_NAME, KeywordV4Judge),
                                       "hf": _hf_factory, "wildguard": _wildguard_factory,
                                       "openai": _openai_factory, "openai-paper": _openai_paper_factory}


def register_judge(prefix: str, factory: JudgeFactory, *, overwrite: bool = False) -> None:
    """Make ``load_judge("PREFIX")`` / ``load_judge("PREFIX:ARG")`` call ``factory(ARG, cache_dir=...)``."""
    if not prefix or ":" in prefix:
        raise ValueError(f"a judge prefix must be non-empty and contain no ':', got {prefix!r}")
    if prefix in _FACTORIES and not overwrite:
        raise ValueError(f"a judge is already registered as {prefix!r}; pass overwrite=True to replace it")
    _FACTORIES[prefix] = factory


def available_judges() -> list[str]:
    """Registered prefixes plus those installed as ``c2kit.judges`` entry points."""
    return sorted(set(_FACTORIES) | {point.name for point in entry_points(group=ENTRY_POINT_GROUP)})


def _factory_for(prefix: str) -> JudgeFactory:
    if prefix in _FACTORIES:
        return _FACTORIES[prefix]
    if re.fullmatch(r"keyword-v\d+", prefix):  # another list: its numbers are not reproducible with these
        raise UserError(
            f"judge {prefix!r} is not a keyword list in this version of c2kit, which has {KEYWORD_NAME!r} (the "
            f"default, 'keyword'), {KEYWORD_V4_NAME!r}, {KEYWORD_V3_NAME!r} and {KEYWORD_V2_NAME!r} (docs/judges.md "
            "says what changed); use one of those or install the c2kit version that made the results"
        )
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == prefix:
            return point.load()
    import difflib

    close = difflib.get_close_matches(prefix, available_judges(), n=1, cutoff=0.75)  # typos, not guesses
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(
        f"unknown judge {prefix!r}{hint}; available: {', '.join(available_judges())} "
        "(specs look like 'keyword' or 'openai:MODEL'; add your own with c2kit.judges.register_judge)"
    )


def load_judge(spec: str, *, cache_dir: str | Path | None = None) -> Judge:
    """The judge for ``spec`` (``keyword`` = ``keyword-v5``, ``keyword-v4``, ``keyword-v3``, ``keyword-v2``,
    ``openai:gpt-4o``, or a plug-in).

    ``cache_dir`` is where judges that pay per answer cache them (default ``~/.cache/c2-toolkit/judge``).
    """
    prefix, argument = split_spec(spec)
    factory = _factory_for(prefix)
    judge = factory(argument or None, cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if not isinstance(judge, Judge):
        raise TypeError(f"the factory for judge {prefix!r} returned {type(judge).__name__}, not a c2kit.judges.Judge")
    return judge


def split_spec(spec: str) -> tuple[str, str]:
    """``PREFIX:ARGUMENT`` -> (prefix, argument); options on a bare prefix (``wildguard?load_in_4bit=true``) go
    to the factory in the argument too."""
    prefix, _, argument = spec.strip().partition(":")
    if "?" in prefix:
        prefix, _, options = prefix.partition("?")
        argument = f"?{options}" + (f":{argument}" if argument else "")
    return prefix, argument


def public_spec(spec: str) -> str:
    """``spec`` as it may be written to results, folder names and logs: any ``user:password@`` in a URL option
    (e.g. ``hf:M?engine=openai&base_url=http://user:pass@host/v1``) removed."""
    return re.sub(r"(?<=//)[^/@\s?&]*@", "", spec)


def check_judge_spec(spec: str) -> None:
    """Raise ``ValueError`` now for a spec whose prefix no judge answers to, without building the judge
    (which may load a model or need an API key): a config can be checked before hours of training."""
    _factory_for(split_spec(spec)[0])
