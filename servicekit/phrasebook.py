"""The bundle's one bilingual phrasebook: what a person reads, English and Hindi side by side.

The SMS bridge, the status page, the monthly report and the exporter's local page take their
words from here, so the same event is named the same way in an SMS, an email, on a page and
in a report. Alertmanager's email template (`alertmanager/templates/parichay.tmpl`) cannot
import Python; `tests/servicekit/test_phrasebook.py` checks that it carries the `EMAIL_*`
phrases and `STATUS_SUBJECT` verbatim, and that the SMS values come from `STATUS` and
`SCOPE`.

Phrases are plain `str.format` templates (`{since}`, `{site}`, `{sites}`, `{what}`); `since`
is `SINCE` filled with a time, or empty. Hindi is written for a secretariat clerk: everyday
words, English technical terms (DNS, NIC) where clerks use them.

Example::

    CENTRAL_DOWN.format(since=SINCE.format(time="09:42 IST")).hi
    # 'परिचय (NIC, दिल्ली) 09:42 IST से बंद है, इसलिए ई-ऑफिस में लॉगिन नहीं हो रहा है।'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Phrase:
    """One thing to say, in English and in Hindi."""

    en: str
    hi: str

    def format(self, **values: object) -> Phrase:
        """Both languages filled with the same values (a value may itself be a Phrase)."""
        en = {k: v.en if isinstance(v, Phrase) else v for k, v in values.items()}
        hi = {k: v.hi if isinstance(v, Phrase) else v for k, v in values.items()}
        return Phrase(self.en.format(**en), self.hi.format(**hi))

    def __add__(self, other: Phrase) -> Phrase:
        return Phrase(self.en + other.en, self.hi + other.hi)


# -- words -------------------------------------------------------------------------------

STATUS: Final = {"firing": Phrase("FIRING", "चालू"), "resolved": Phrase("RESOLVED", "समाप्त")}
# The email subject's last word and its heading.
STATUS_SUBJECT: Final = {
    "firing": Phrase("FIRING", "चालू समस्या"),
    "resolved": Phrase("RESOLVED", "समस्या समाप्त"),
}
# Where the fault lies (the alerts' `scope` label), short: SMS and report tables.
SCOPE: Final = {
    "central": Phrase("central", "केंद्रीय"),
    "app": Phrase("e-Office", "ई-ऑफिस"),
    "path": Phrase("network path", "नेटवर्क मार्ग"),
    "local": Phrase("local", "स्थानीय"),
    "config": Phrase("account", "खाता"),
    "monitoring": Phrase("monitoring", "निगरानी"),
}
# The same, spelt out for a reader who does not know the labels (report).
SCOPE_LONG: Final = {
    "central": Phrase("central (Parichay / NIC)", "केंद्रीय (परिचय / NIC)"),
    "app": Phrase("e-Office", "ई-ऑफिस"),
    "path": Phrase(
        "network path (some sites could not reach it)",
        "नेटवर्क मार्ग (कुछ कार्यालय नहीं पहुँच सके)",
    ),
    "local": Phrase("a site's own network", "कार्यालय का अपना नेटवर्क"),
    "config": Phrase("monitoring account", "निगरानी खाता"),
    "monitoring": Phrase("monitoring chain", "निगरानी तंत्र"),
}
PARICHAY: Final = Phrase("Parichay", "परिचय")
PARICHAY_NIC: Final = Phrase("Parichay (NIC, Delhi)", "परिचय (NIC, दिल्ली)")
EOFFICE: Final = Phrase("e-Office", "ई-ऑफिस")
SITE_NETWORK: Final = Phrase("network of {site}", "{site} का नेटवर्क")
SINCE: Final = Phrase(" since {time}", " {time} से")
MONTHS: Final = tuple(
    Phrase(en, hi)
    for en, hi in (
        ("January", "जनवरी"), ("February", "फ़रवरी"), ("March", "मार्च"), ("April", "अप्रैल"),
        ("May", "मई"), ("June", "जून"), ("July", "जुलाई"), ("August", "अगस्त"),
        ("September", "सितंबर"), ("October", "अक्टूबर"), ("November", "नवंबर"),
        ("December", "दिसंबर"),
    )
)  # fmt: skip

# -- what is wrong now: the status page's headline and the exporter's local page --------

CENTRAL_DOWN: Final = Phrase(
    "e-Office login is down because Parichay (NIC, Delhi) is down{since}.",
    "परिचय (NIC, दिल्ली){since} बंद है, इसलिए ई-ऑफिस में लॉगिन नहीं हो रहा है।",
)
CENTRAL_INTERMITTENT: Final = Phrase(
    "Parichay (NIC, Delhi) is failing intermittently{since}: many e-Office logins fail.",
    "परिचय (NIC, दिल्ली){since} रुक-रुक कर विफल हो रहा है: कई ई-ऑफिस लॉगिन विफल हो रहे हैं।",
)
APP_LOGIN_FAILING: Final = Phrase(
    "e-Office login is failing{since}; Parichay works, the fault is in e-Office.",
    "ई-ऑफिस लॉगिन{since} विफल है; परिचय चालू है, खराबी ई-ऑफिस में है।",
)
APP_INTERMITTENT: Final = Phrase(
    "{what} is failing intermittently{since}; Parichay works.",
    "{what}{since} रुक-रुक कर विफल हो रहा है; परिचय चालू है।",
)
APP_DOWN: Final = Phrase(
    "{what} is down{since}; Parichay works, the fault is in e-Office.",
    "{what}{since} बंद है; परिचय चालू है, खराबी ई-ऑफिस में है।",
)
PATH_UNREACHABLE: Final = Phrase(
    "{what} cannot be reached from {sites}; other sites work.",
    "{sites} से {what} तक नहीं पहुँचा जा सकता; अन्य कार्यालय ठीक काम कर रहे हैं।",
)
LOCAL_RESOLVER_DOWN: Final = Phrase(
    "Only the name server (DNS) of {sites} is down{since}; other sites work.",
    "केवल {sites} का नाम सर्वर (DNS){since} बंद है; अन्य कार्यालय ठीक काम कर रहे हैं।",
)
LOCAL_NETWORK_DOWN: Final = Phrase(
    "Only the network of {sites} is down{since}; Parichay and e-Office work.",
    "केवल {sites} का नेटवर्क{since} बंद है; परिचय और ई-ऑफिस चालू हैं।",
)
MONITORING_BROKEN: Final = Phrase(
    "Part of the monitoring is not working{since} ({what}); this page may be incomplete.",
    "निगरानी का एक भाग{since} काम नहीं कर रहा ({what}); यह पृष्ठ अधूरा हो सकता है।",
)
ALL_WORKING: Final = Phrase(
    "Parichay and e-Office are working normally.",
    "परिचय और ई-ऑफिस सामान्य रूप से काम कर रहे हैं।",
)
STATE_UNKNOWN: Final = Phrase(
    "The state of Parichay and e-Office cannot be read right now.",
    "परिचय और ई-ऑफिस की स्थिति अभी पढ़ी नहीं जा सकती।",
)
# The exporter's local page: one site's view, which cannot see Alertmanager.
LOCAL_STARTING: Final = Phrase(
    "Checks are starting; no results yet.", "जाँच शुरू हो रही है; अभी कोई परिणाम नहीं।"
)
LOCAL_OWN_NETWORK_DOWN: Final = Phrase(
    "This office's own network appears to be down{since}; Parichay and e-Office may be "
    "working elsewhere.",
    "इस कार्यालय का नेटवर्क{since} बंद प्रतीत होता है; परिचय और ई-ऑफिस अन्य स्थानों पर ठीक हो सकते हैं।",
)
LOCAL_ITDA_CHECKING: Final = Phrase(
    " ITDA is checking; the state-wide status page shows whether a page went out.",
    " ITDA जाँच कर रहा है; राज्य-स्तरीय स्थिति पृष्ठ बताता है कि सूचना भेजी गई या नहीं।",
)
ITDA_ALERTED: Final = Phrase(" ITDA has been alerted.", " ITDA को सूचना दे दी गई है।")
ITDA_CHECKING: Final = Phrase(" ITDA is checking.", " ITDA जाँच कर रहा है।")
PLANNED: Final = Phrase(
    " This is the planned maintenance announced above.",
    " यह ऊपर घोषित नियोजित रखरखाव है।",
)

# -- email (Alertmanager's template and the SMS bridge's RESOLVED email) ------------------

EMAIL_ALL_RESOLVED: Final = Phrase(
    "All alerts of this group are resolved. No action needed.",
    "इस समूह की सभी समस्याएँ समाप्त हो गई हैं। कोई कार्रवाई आवश्यक नहीं।",
)
EMAIL_ALL_VANTAGES: Final = Phrase(
    "every vantage with a healthy network, see details",
    "स्वस्थ नेटवर्क वाले सभी स्थान, विवरण देखें",
)
EMAIL_PATH: Final = Phrase(
    "Unreachable from: {sites}. The service itself is up from other sites: the fault is on "
    "the network path between these sites and it (state WAN, NICNET link, firewall, DNS view).",
    "इन स्थानों से नहीं पहुँच रहा: {sites}। सेवा स्वयं अन्य स्थानों से चालू है: खराबी इन "
    "स्थानों और सेवा के बीच के नेटवर्क मार्ग में है (राज्य WAN, NICNET लिंक, फ़ायरवॉल, DNS)।",
)
EMAIL_FIELDS: Final = {
    "scope": Phrase("Scope", "क्षेत्र"),
    "target": Phrase("Target", "लक्ष्य"),
    "vantages": Phrase("Vantage(s)", "स्थान"),
    "since": Phrase("Since", "कब से"),
    "resolved": Phrase("Resolved", "समाप्त"),
    "runbook": Phrase("Runbook", "रनबुक"),
    "source": Phrase("Source", "स्रोत"),
}


# -- the monthly report's summary --------------------------------------------------------

REPORT_UNAVAILABLE: Final = Phrase(
    "{who} was unavailable for {down} in {period}{to_date}: availability {availability} "
    "against an objective of {objective}.",
    "{period}{to_date} में {who} कुल {down} उपलब्ध नहीं रहा: उपलब्धता {availability}, लक्ष्य {objective}।",
)
TO_DATE: Final = Phrase(" (to date)", " (अब तक)")
INCIDENT_ONE: Final = Phrase("incident", "घटना")
INCIDENT_MANY: Final = Phrase("incidents", "घटनाओं")
ALL_OF: Final = Phrase("all ", "सभी ")
REPORT_PAGED: Final = Phrase(
    "ITDA was paged for {count} {incidents} ({kinds}); the longest, {scope}, {when} ({duration}).",
    "ITDA को {count} {incidents} की सूचना मिली ({kinds}); सबसे लंबी घटना {when} ({duration})।",
)
REPORT_NOT_PAGED: Final = Phrase(
    "No outage was long enough to page ITDA.",
    "कोई रुकावट इतनी लंबी नहीं थी कि ITDA को सूचना भेजी जाती।",
)
REPORT_MAINTENANCE: Final = Phrase(
    "Planned maintenance, left out of availability: {duration}.",
    "नियोजित रखरखाव (उपलब्धता में नहीं गिना गया): {duration}।",
)
REPORT_QUIET_ONE: Final = Phrase(
    "1 outage during planned maintenance paged nobody and is listed apart, not counted "
    "among the incidents.",
    "नियोजित रखरखाव के दौरान 1 रुकावट हुई; ITDA को सूचना नहीं भेजी गई, वह घटनाओं में नहीं "
    "गिनी गई और अलग सूचीबद्ध है।",
)
REPORT_QUIET_MANY: Final = Phrase(
    "{count} outages during planned maintenance paged nobody and are listed apart, not "
    "counted among the incidents.",
    "नियोजित रखरखाव के दौरान {count} रुकावटें हुईं; ITDA को सूचना नहीं भेजी गई, वे घटनाओं में "
    "नहीं गिनी गईं और अलग सूचीबद्ध हैं।",
)
REPORT_GAPS: Final = Phrase(
    "Monitoring data is missing for {duration}; that time is counted neither as up nor as down.",
    "{duration} का निगरानी डेटा उपलब्ध नहीं है; वह समय न उपलब्ध गिना गया, न अनुपलब्ध।",
)


# -- durations ---------------------------------------------------------------------------


def duration(seconds: float) -> Phrase:
    """`1 h 45 min` / `1 घंटा 45 मिनट`, `4 h 02 min` / `4 घंटे 02 मिनट`, `12 min` / `12 मिनट`:
    rounded to the nearest minute, for people (page, report, SMS)."""
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if hours:
        return Phrase(
            f"{hours} h {rest:02d} min", f"{hours} {'घंटा' if hours == 1 else 'घंटे'} {rest:02d} मिनट"
        )
    return Phrase(f"{rest} min", f"{rest} मिनट")
