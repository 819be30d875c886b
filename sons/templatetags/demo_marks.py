"""« [DÉMO] » beside every demo amount: `{{ order|demo_mark }}` after the amount, and
`{% if claim|is_demo %}…{{ demo_note }}…{% endif %}` for the sentence that explains it."""

from __future__ import annotations

from django import template

from sons import demo_marks

register = template.Library()


@register.filter
def demo_mark(value):
    """The mark after an amount (an order, a claim, a filing, a tariff or a bool)."""
    return demo_marks.demo_mark_html(value)


@register.filter
def is_demo(value) -> bool:
    return demo_marks.amount_is_demo(value)


@register.simple_tag
def demo_note() -> str:
    return demo_marks.demo_note()
