"""Names and sentences of the status page and the report, from `servicekit.phrasebook`.

Sites (`site_name`: `district-haridwar` -> "the Haridwar district office" / "हरिद्वार जिला
कार्यालय", or the names an operator gives with `--sites`), rows (`service_name`), the
headline sentence of one firing page alert, worded by its scope as the SMS is
(`sentence`), and the short title of an incident (`incident_title`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from servicekit import phrasebook as words
from servicekit.phrasebook import Phrase
from statuspage import reading
from statuspage.history import Incident, format_ist

# Hindi names of places the vantages are commonly named after; others show as written.
PLACES_HI = {
    "dehradun": "देहरादून",
    "haridwar": "हरिद्वार",
    "mumbai": "मुंबई",
    "delhi": "दिल्ली",
    "nainital": "नैनीताल",
    "almora": "अल्मोड़ा",
    "pauri": "पौड़ी",
    "tehri": "टिहरी",
    "udham-singh-nagar": "ऊधम सिंह नगर",
    "rudraprayag": "रुद्रप्रयाग",
    "chamoli": "चमोली",
    "pithoragarh": "पिथौरागढ़",
    "bageshwar": "बागेश्वर",
    "champawat": "चंपावत",
    "uttarkashi": "उत्तरकाशी",
}


# A name or sentence in both languages: the phrasebook's one type.
Name = Phrase


def site_name(vantage: str, names: Mapping[str, Name] | None = None) -> Name:
    """`district-haridwar` -> the Haridwar district office / हरिद्वार जिला कार्यालय."""
    if names and vantage in names:
        return names[vantage]
    kind, _, place = vantage.partition("-")
    place_en = place.replace("-", " ").title()
    place_hi = PLACES_HI.get(place, place_en)
    if kind == "district" and place:
        return Name(f"the {place_en} district office", f"{place_hi} जिला कार्यालय")
    if kind == "secretariat" and place:
        return Name(f"the secretariat in {place_en}", f"{place_hi} सचिवालय")
    if kind == "cloud" and place:
        return Name(f"the {place_en} cloud site", f"{place_hi} क्लाउड साइट")
    return Name(vantage, vantage)


def service_name(service: str, names: Mapping[str, Name] | None = None) -> Name:
    """Display name of a row."""
    kind = reading.category(service)
    if kind == "sso":
        return Name("Parichay sign-on (NIC, Delhi)", "परिचय साइन-ऑन (NIC, दिल्ली)")
    if kind == "site":
        site = site_name(service.removeprefix(reading.SITE_PREFIX), names)
        return Name(f"Network of {site.en}", f"{site.hi} का नेटवर्क")
    return Name(f"e-Office ({service})", f"ई-ऑफिस ({service})")


def _since(ts: float | None) -> Phrase:
    if ts is None:
        return Phrase("", "")
    return words.SINCE.format(time=format_ist(ts, with_date=False))


def _join(names: Sequence[Name]) -> Name:
    if not names:
        return Name("some sites", "कुछ कार्यालयों")
    if len(names) == 1:
        return names[0]
    return Name(
        ", ".join(n.en for n in names[:-1]) + " and " + names[-1].en,
        ", ".join(n.hi for n in names[:-1]) + " और " + names[-1].hi,
    )


def sentence(
    labels: Mapping[str, str],
    *,
    vantages: Sequence[str],
    since: float | None,
    names: Mapping[str, Name] | None = None,
) -> tuple[str, str, str]:
    """(level, English, Hindi) for one page alert, worded by its scope (`servicekit.phrasebook`)."""
    level, said = _sentence(labels, vantages=vantages, since=_since(since), names=names)
    return level, said.en, said.hi


def _sentence(
    labels: Mapping[str, str],
    *,
    vantages: Sequence[str],
    since: Phrase,
    names: Mapping[str, Name] | None,
) -> tuple[str, Phrase]:
    name = labels.get("alertname", "")
    scope = labels.get("scope", "")
    target = labels.get("target", "")
    is_eoffice = name.startswith("EOffice") or labels.get("role") == "app"
    if scope == "central":
        if "Intermittent" in name:
            return "down", words.CENTRAL_INTERMITTENT.format(since=since)
        return "down", words.CENTRAL_DOWN.format(since=since)
    if scope == "app":
        what = Phrase(f"e-Office ({target})", f"ई-ऑफिस ({target})") if target else words.EOFFICE
        if "Login" in name:
            return "down", words.APP_LOGIN_FAILING.format(since=since)
        if "Intermittent" in name:
            return "down", words.APP_INTERMITTENT.format(what=what, since=since)
        return "down", words.APP_DOWN.format(what=what, since=since)
    sites = _join([site_name(v, names) for v in vantages])
    if scope == "path":
        what = words.EOFFICE if is_eoffice else words.PARICHAY
        return "partial", words.PATH_UNREACHABLE.format(what=what, sites=sites)
    if scope == "local":
        if "Resolver" in name:
            return "local", words.LOCAL_RESOLVER_DOWN.format(sites=sites, since=since)
        return "local", words.LOCAL_NETWORK_DOWN.format(sites=sites, since=since)
    return "monitoring", words.MONITORING_BROKEN.format(since=since, what=name)


def incident_title(incident: Incident, names: Mapping[str, Name] | None = None) -> Name:
    """A short plain title of an incident: what failed, and where."""
    name = incident.alertname
    eoffice = name.startswith("EOffice")
    what = (
        Name("e-Office", "ई-ऑफिस")
        if eoffice
        else Name("Parichay (NIC, Delhi)", "परिचय (NIC, दिल्ली)")
    )
    if eoffice and incident.targets:
        listed = ", ".join(incident.targets)
        what = Name(f"e-Office ({listed})", f"ई-ऑफिस ({listed})")
    sites = _join([site_name(v, names) for v in incident.vantages])
    if "Intermittent" in name:
        return Name(f"{what.en} failing intermittently", f"{what.hi} रुक-रुक कर विफल")
    if incident.scope in ("central", "app"):
        return Name(f"{what.en} down", f"{what.hi} बंद")
    if incident.scope == "path":
        return Name(f"{what.en} unreachable from {sites.en}", f"{sites.hi} से {what.hi} तक पहुँच नहीं")
    if incident.scope == "local":
        return Name(f"Network of {sites.en} down", f"{sites.hi} का नेटवर्क बंद")
    return Name(name, name)


