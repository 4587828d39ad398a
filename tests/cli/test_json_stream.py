"""``emit_json_stream`` prints, item by item, exactly the document
``emit_json`` prints whole: same text, so the streamed ``show --json`` of a
million-record commit reads as every other command's JSON does."""

from __future__ import annotations

import click
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from attgit.cli.app import emit_json, emit_json_stream

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=12)


def printed(print_it) -> str:
    @click.command()
    def command():
        print_it()

    result = CliRunner().invoke(command)
    assert result.exit_code == 0, result.output
    return result.output


@settings(max_examples=150, deadline=None)
@given(head=st.dictionaries(st.text(max_size=5).filter(lambda k: k != "items"), values, max_size=3),
       items=st.lists(values, max_size=4))
def test_the_streamed_document_is_the_whole_one(head, items):
    whole = printed(lambda: emit_json({**head, "items": items}))
    streamed = printed(lambda: emit_json_stream(head, "items", iter(items)))
    assert streamed == whole
