"""`{% filter elided %}{% blocktranslate … %}…{% endblocktranslate %}{% endfilter %}`: a translated
block with a name filled in, with the French elisions the name calls for (`core.wording.elide`)."""

from __future__ import annotations

from django import template

from seatkeeper.core.wording import elide

register = template.Library()


@register.filter(is_safe=True)
def elided(text: str) -> str:
    return elide(str(text))
