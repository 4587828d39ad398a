"""``{{ user|is_root }}`` in templates: the ATTGIT_IS_ROOT hook, for any
user model (``user.is_root`` exists only on the example's own User)."""

from django import template

from ..access import is_root as _is_root

register = template.Library()


@register.filter
def is_root(user) -> bool:
    return _is_root(user)
