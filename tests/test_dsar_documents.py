"""DSAR documents ready to send (issue 13): names, not ids; durations, bases and safeguards in
words; dates in the reader's form; every Art. 15(1)-(2) item, Art. 20 and Art. 15(1)(h); English
and German from Babel catalogues; HTML and Markdown from the same data, each escaped for its
format; a configured controller required. On every backend."""

import asyncio
import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from markdown_it import MarkdownIt

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.compliance.settings import Settings as ComplianceSettings
from registry.errors import InvalidArgument
from registry.subjects.language import catalogue
from registry.subjects.keys import KeyHasher
from registry.subjects.render import NO_CONTROLLER, dsar_view, render
from registry.subjects.service import SubjectService
from registry.subjects.words import Words
from registry.subjects.language import language
from tests.subject_graphs import CASE_SUBJECTS, CASES, SUBJECT, bundles

DPO = Principal.of("alice", "dpo")
CONTROLLER = "Aurora Mutual Insurance SE, Cologne, privacy@aurora.example"
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
SUBJECTS = Path(__file__).resolve().parent.parent / "registry" / "subjects"


@pytest.fixture
def service(registry, tmp_path):
    registry.load(bundles(), actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    service.load(path, principal=DPO)
    return service


def document(service, format="markdown", lang="en", subject="C-1", **options):
    report = service.report(principal=DPO, subject=subject, as_of=NOW.date())
    return render(report, service.registry.entities, format, controller=options.pop("controller", CONTROLLER),
                  lang=lang, now=NOW, countries=ComplianceSettings.packaged().countries, **options)


def test_the_english_document_uses_names_and_words_not_ids_and_codes(service):
    text = document(service, lang="en-GB")
    assert "| Claims | Diagnoses | Claims handling | Contract (GDPR Art. 6(1)(b)); Legal claims (GDPR Art. 9(2)(f)) " \
           "| 10 years after our relationship with you ends | Broker |" in text
    assert "| Reinsurer | reinsurer | United States | Diagnoses | Reinsurance | Contract (GDPR Art. 6(1)(b)); Legal " \
           "claims (GDPR Art. 9(2)(f)) | the standard data protection clauses adopted by the European Commission " \
           "(GDPR Art. 46(2)(c)) |" in text
    # f2 and f3 both bring diagnoses to the reinsurer for reinsurance on the treaty's terms: one row, not two.
    assert text.count("| Reinsurer | reinsurer |") == 1
    assert "As of 30 November 2026; written 30 Nov 2026, 15:00:00 UTC" in text
    assert "**Data portability** (GDPR Art. 20)" in text
    assert "Some recipients are outside the European Economic Area" in text
    for code in ("gdpr-6-1-b", "gdpr-9-2-f", "P10Y", "scc", "health.diagnosis", "claims-handling", "prepared by"):
        assert code not in text, code
    us_form = document(service, lang="en")
    assert "As of November 30, 2026" in us_form


def test_the_german_document_is_worded_in_german(service):
    text = document(service, lang="de")
    assert text.startswith("# Ihre personenbezogenen Daten: unsere Antwort auf Ihr Auskunftsersuchen\n")
    assert "Stand 30. November 2026; erstellt 30.11.2026, 15:00:00 UTC" in text
    assert "Dieses Schreiben beantwortet Ihr Ersuchen nach Art. 15 DSGVO" in text
    assert "| Claims | Diagnoses | Claims handling | Vertrag (Art. 6 Abs. 1 lit. b DSGVO); Rechtsansprüche (Art. 9 " \
           "Abs. 2 lit. f DSGVO) | 10 Jahre nach Ende unserer Geschäftsbeziehung mit Ihnen | Broker |" in text
    assert "| Reinsurer | Rückversicherer | Vereinigte Staaten | Diagnoses | Reinsurance |" in text
    assert "die von der Europäischen Kommission erlassenen Standarddatenschutzklauseln (Art. 46 Abs. 2 lit. c DSGVO)" \
        in text
    assert "## Ihre Rechte" in text and "**Datenübertragbarkeit** (Art. 20 DSGVO)" in text
    assert "**Beschwerde bei einer Aufsichtsbehörde** (Art. 77 DSGVO)" in text
    assert "| Marketing | widerrufen | 1. Mai 2025 | — |" in text
    assert "Wir treffen keine ausschließlich auf einer automatisierten Verarbeitung" in text
    for english in ("Your rights", "Legal basis", "years", "Contract", "withdrawn", "United States"):
        assert english not in text, english


def test_a_region_chooses_the_form_of_dates(service):
    assert "Stand 30. November 2026" in document(service, lang="de-AT")
    with pytest.raises(InvalidArgument, match="lang: 'fr' is not supported; use en or de"):
        document(service, lang="fr")


def test_html_and_markdown_say_the_same(service):
    html, markdown = document(service, "html", "de"), document(service, "markdown", "de")
    view = dsar_view(service.report(principal=DPO, subject="C-1", as_of=NOW.date()), service.registry.entities,
                     Words(language("de")), controller=CONTROLLER, dpo=None, countries=None, now=NOW)
    values = {v for section in ("holdings", "recipients", "potential", "consents", "history", "rights")
              for row in view[section] for v in row.values() if isinstance(v, str) and v}
    assert values
    text = _HtmlText.of(html)
    rendered = MarkdownIt("gfm-like").render(markdown)
    for value in values:
        assert value in text and value in _HtmlText.of(rendered), value


def test_a_system_deciding_by_automated_means_alone_is_described_with_the_right_to_human_review(service):
    claims = service.registry.entity("claims", "system").doc
    service.registry.upsert("system", {**claims, "automated_decisions": {
        "description": "Small claims are settled without a handler.", "logic": "Rules on cover and amount.",
        "consequences": "Payment within two days; a handler reviews on request."}}, actor="test")
    text = document(service, lang="en")
    assert "**Claims**: Small claims are settled without a handler\\.  \nHow it decides: Rules on cover and amount\\." \
           not in text  # a full stop needs no escape
    assert "**Claims**: Small claims are settled without a handler.  \nHow it decides: Rules on cover and amount." in text
    assert "**Human review of automated decisions** (GDPR Art. 22(3))" in text
    assert "(GDPR Art. 22); you may ask for a person to review them." in text


def test_names_with_html_links_and_markdown_are_shown_as_written(service):
    hostile = '<script>alert(1)</script> [win](http://evil.example) *Re* | www.evil.example ops@evil.example'
    reinsurer = service.registry.entity("re", "party").doc
    service.registry.upsert("party", {**reinsurer, "name": hostile}, actor="test")
    markdown = document(service, "markdown")
    rendered = MarkdownIt("gfm-like").render(markdown)
    assert "<script>" not in rendered and "<a " not in rendered and "<em>" not in rendered
    assert hostile.replace("<", "&lt;").replace(">", "&gt;") in rendered
    row = next(line for line in markdown.splitlines() if "alert" in line)
    assert row.count(" | ") == 6  # the name's pipe does not split the table row
    html = document(service, "html")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert hostile in _HtmlText.of(html)


def test_a_consent_event_without_a_notice_or_channel_renders(service):
    service.set_consent(principal=DPO, subject="C-1", purpose="wellness", status="granted",
                        at=datetime(2026, 1, 5, 9, tzinfo=timezone.utc))
    for format in ("markdown", "html"):
        assert "Wellness programme" in document(service, format)
    assert "| 5 January 2026 | Wellness programme | given | — | — | — |" in document(service, lang="en-GB")


@pytest.mark.parametrize("controller", [None, "", "  ", "(controller not configured: set DSA_REGISTRY_CONTROLLER)"])
def test_a_document_needs_a_configured_controller(service, controller):
    with pytest.raises(InvalidArgument) as raised:
        document(service, controller=controller)
    assert str(raised.value) == NO_CONTROLLER


def test_the_document_over_graphql_in_the_language_asked_for(service):
    def ask(compliance, lang):
        context = Context(registry=service.registry, subjects=service, principal=DPO, compliance=compliance)
        return asyncio.run(schema.execute(
            'query ($lang: String) { dsarDocument(subject: "C-1", format: MARKDOWN, lang: $lang) }',
            variable_values={"lang": lang}, context_value=context))

    configured = ComplianceSettings.packaged(controller=CONTROLLER, document_language="de")
    result = ask(configured, None)
    assert result.errors is None and result.data["dsarDocument"].startswith("# Ihre personenbezogenen Daten")
    assert ask(configured, "en").data["dsarDocument"].startswith("# Your personal data")
    refused = ask(ComplianceSettings.packaged(), "en")
    assert [(e.message, e.extensions["code"]) for e in refused.errors] == [(NO_CONTROLLER, "BAD_INPUT")]


def test_the_german_catalogue_translates_every_message():
    method_map = [("**/templates/dsar.*.j2", "jinja2.ext:babel_extract"), ("**/words.py", "python"),
                  ("**/render.py", "python")]
    found = {message for _, _, message, _, _ in extract_from_dir(str(SUBJECTS), method_map,
                                                                 keywords={"_": None, "gettext": None})}
    assert len(found) > 100
    german = catalogue("de")
    untranslated = sorted(m for m in found if german.gettext(m) == m)
    assert untranslated == []


class _HtmlText(HTMLParser):
    """The text a browser shows for an HTML document (tags dropped, entities decoded)."""

    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return re.sub(r"\s+", " ", "".join(parser.parts))


def test_a_transfer_an_adequacy_decision_covers_says_so_and_one_nothing_covers_says_none(service):
    registry = service.registry
    for id_, certified in (("stratus", True), ("nimbus", False)):  # two US cloud processors, one DPF-certified
        registry.upsert("party", {"id": id_, "name": id_.title(), "kind": "processor", "country": "US",
                                  "role": "processor", **({"dpf_certified": True} if certified else {})}, actor="test")
        registry.upsert("flow", {"id": f"crm-to-{id_}", "name": "Hosting", "from": "crm", "to": id_,
                                 "categories": ["contact"], "purpose": "underwriting", "legal_basis": "gdpr-6-1-b"},
                        actor="test")
    rows = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ")[-1]
            for line in document(service).splitlines() if line.startswith(("| Stratus ", "| Nimbus "))}
    assert rows == {"Stratus": "an adequacy decision of the European Commission (GDPR Art. 45)",
                    "Nimbus": "none recorded"}
    german = document(service, lang="de")
    assert "Angemessenheitsbeschluss" in next(line for line in german.splitlines() if line.startswith("| Stratus "))
    # Nimbus has no safeguard: the letter does not say that each transfer's safeguard is named.
    english = document(service)
    assert "the safeguards for these transfers are named above as far as they are recorded" in english
    assert "the safeguard for each such transfer is named above" not in english
    assert "die Garantien für diese Übermittlungen sind oben genannt, soweit sie erfasst sind" in german


def test_one_row_per_recipient_purpose_and_terms_with_all_the_data_it_received(service):
    registry = service.registry
    registry.upsert("party", {"id": "pool", "name": "Pool Re", "kind": "reinsurer", "country": "DE",
                              "role": "controller"}, actor="test")
    for id_, source, category in (("p1", "crm", "contact"), ("p2", "claims", "health.diagnosis")):
        registry.upsert("flow", {"id": id_, "name": id_, "from": source, "to": "pool", "categories": [category],
                                 "purpose": "reinsurance", "legal_basis": "gdpr-6-1-b"}, actor="test")

    def rows():
        return [line for line in document(service).splitlines() if line.startswith("| Pool Re |")]

    assert rows() == ["| Pool Re | reinsurer | Germany | Contact details and Diagnoses | Reinsurance | Contract "
                      "(GDPR Art. 6(1)(b)) | — |"]
    # Near miss: the same recipient and purpose on other terms is a row of its own.
    p2 = registry.entity("p2", "flow").doc
    registry.upsert("flow", {**p2, "condition": "gdpr-9-2-f"}, actor="test")
    assert [row.split(" | ")[3] for row in rows()] == ["Contact details", "Diagnoses"]


def test_the_rights_are_stated_as_the_articles_give_them(service):
    english, german = document(service), document(service, lang="de")
    assert "while its accuracy or your objection is being checked, where the processing is unlawful and you want " \
           "restriction instead of erasure, or where we no longer need the data but you need it to establish, exercise " \
           "or defend legal claims." \
        in english
    assert "## Sharing that does not take place without your consent" in english
    assert "## Weitergaben, die ohne Ihre Einwilligung unterbleiben" in german
    assert "Sie sie aber zur Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen benötigen." in german


@pytest.fixture
def cases(registry, tmp_path):
    registry.load([("cases.yaml", CASES)], actor="test")
    service = SubjectService(registry, KeyHasher(None))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in CASE_SUBJECTS))
    service.load(path, principal=DPO)
    return service


def test_the_cases_a_potential_recipient_waits_for_are_not_said_unrecorded_when_others_are(cases):
    # P-1: a large loss went to Facultative Re (a recorded disclosure); no fraud referral to the police.
    english, german = (document(cases, subject="P-1", lang=lang) for lang in ("en", "de"))
    assert "| State criminal police office | law enforcement authority | Germany | Claim files | Fraud prevention " \
           "| Fraud referrals |" in english
    assert "| March 1, 2025 | Facultative Re | Large losses to Facultative Re | Claim files | FAC-17 |" in english
    assert "None of the cases named here has been recorded concerning you; those that have are listed under " \
           "“Disclosures of your data”.\n\n| Recipient |" in english
    assert "Keiner der hier genannten Fälle ist bei Ihnen verzeichnet; die verzeichneten stehen unter " \
           "„Übermittlungen Ihrer Daten“." in german
    assert "No such case concerning you has been recorded" not in english
    # K-1: no disclosure recorded at all.
    assert "No such case concerning you has been recorded." in document(cases, subject="K-1")


def test_the_history_says_when_each_consent_runs_out_as_the_summary_does(cases):
    # P-1's marketing consent of 2024-06-01 sets no end of its own; marketing's consent_validity (P24M) ends it.
    english = document(cases, subject="P-1")
    assert "| Marketing | expired | June 1, 2024 | June 1, 2026 |" in english
    assert "| June 1, 2024 | Marketing | given | — | — | June 1, 2026 |" in english
    # K-1's own end (2025-12-31) comes before the inherited validity's (2027-01-01).
    assert "| January 1, 2025 | Newsletter | given | — | — | December 31, 2025 |" in document(cases, subject="K-1")


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def test_a_flow_without_consent_says_the_consent_was_withdrawn_and_when_or_never_given(service):
    # C-1 withdrew the marketing consent on 1 May 2025 (m1 rests on it) and never consented to the
    # wellness programme (w1 carries diagnoses on explicit consent): the record tells the two apart.
    english, german = document(service, lang="en-GB"), document(service, lang="de")
    assert _lines(english, "- ") == [
        "- Campaign audiences (Marketing): Contact details not shared, because you withdrew your consent on "
        "1 May 2025",
        "- Wellness referrals (Wellness programme): Diagnoses not shared, because you have not given your consent",
        *_lines(english, "- **")]
    assert _lines(german, "- ") == [
        "- Campaign audiences (Marketing): Contact details nicht weitergegeben, weil Sie Ihre Einwilligung am "
        "1. Mai 2025 widerrufen haben",
        "- Wellness referrals (Wellness programme): Diagnoses nicht weitergegeben, weil Sie Ihre Einwilligung nicht "
        "erteilt haben",
        *_lines(german, "- **")]
    assert "<li>Campaign audiences (Marketing): Contact details nicht weitergegeben, weil Sie Ihre Einwilligung am " \
           "1. Mai 2025 widerrufen haben</li>" in document(service, "html", "de")
    assert "<li>Campaign audiences (Marketing): Contact details not shared, because you withdrew your consent on " \
           "May 1, 2025</li>" in document(service, "html", "en")
    for hedge in ("not given or have withdrawn", "nicht erteilt oder widerrufen", "your consent has expired",
                  "Einwilligung abgelaufen ist"):
        assert hedge not in english + german, hedge
    # Near misses: the summary of consents says what it said, and so does the right to withdraw or
    # object, which speaks of what the reader may do, not of what the record says.
    assert "| Marketing | widerrufen | 1. Mai 2025 | — |" in german
    assert "| Marketing | withdrawn | 1 May 2025 | — |" in english
    assert "wenn Sie Ihre Einwilligung widerrufen oder Widerspruch einlegen oder wenn sie unrechtmäßig verarbeitet " \
           "wurden" in german


def test_the_latest_withdrawal_dates_the_sentence_and_a_consent_given_again_ends_it(service):
    for status, day in (("granted", 1), ("withdrawn", 16)):
        service.set_consent(principal=DPO, subject="C-1", purpose="marketing", status=status,
                            at=datetime(2025, 9, day, 8, tzinfo=timezone.utc))
    assert "Contact details not shared, because you withdrew your consent on 16 September 2025" \
        in document(service, lang="en-GB")
    assert "weil Sie Ihre Einwilligung am 16. September 2025 widerrufen haben" in document(service, lang="de")
    # Near miss: given again, the consent stands: m1 is not listed, only w1 (never given) is.
    service.set_consent(principal=DPO, subject="C-1", purpose="marketing", status="granted",
                        at=datetime(2026, 1, 5, 9, tzinfo=timezone.utc))
    english = document(service, lang="en-GB")
    assert "Campaign audiences (Marketing):" not in english and "you withdrew your consent" not in english
    assert "- Wellness referrals (Wellness programme): Diagnoses not shared, because you have not given your consent" \
        in english


def test_a_flow_without_consent_says_the_consent_expired_and_when(cases):
    # P-1's marketing consent of 1 June 2024 ran out after marketing's 24 months; the newsletter flow
    # rests on it as a consent to the broader purpose. K-1's newsletter consent ran out on its own date.
    assert _lines(document(cases, subject="P-1", lang="en"), "- Newsletter") == [
        "- Newsletter (Newsletter): Contact details not shared, because your consent expired on June 1, 2026"]
    assert _lines(document(cases, subject="P-1", lang="de"), "- Newsletter") == [
        "- Newsletter (Newsletter): Contact details nicht weitergegeben, weil Ihre Einwilligung am 1. Juni 2026 "
        "abgelaufen ist"]
    assert _lines(document(cases, subject="K-1", lang="en-GB"), "- Newsletter") == [
        "- Newsletter (Newsletter): Contact details not shared, because your consent expired on 31 December 2025"]
    german = document(cases, subject="K-1", lang="de")
    assert _lines(german, "- Newsletter") == [
        "- Newsletter (Newsletter): Contact details nicht weitergegeben, weil Ihre Einwilligung am 31. Dezember 2025 "
        "abgelaufen ist"]
    assert "widerrufen haben" not in german and "nicht erteilt haben" not in german
    # Near miss: the summary still says until when it was valid, in the same date.
    assert "| Newsletter | abgelaufen | 1. Januar 2025 | 31. Dezember 2025 |" in german


def test_the_subject_line_names_the_person_and_their_category_of_data_subjects(cases):
    english, german = document(cases, subject="P-1", lang="en"), document(cases, subject="K-1", lang="de")
    assert "Data subject: P-1  \nCategory of data subjects: Policyholders  \nAs of " in english
    assert "Betroffene Person: K-1  \nKategorie betroffener Personen: Claimants  \nStand " in german
    assert "Data subject: P-1<br>\nCategory of data subjects: Policyholders<br>\n" \
        in document(cases, "html", subject="P-1", lang="en")
    assert "Betroffene Person: K-1<br>\nKategorie betroffener Personen: Claimants<br>\n" \
        in document(cases, "html", subject="K-1", lang="de")
    # Near miss: the plural name is never put after the person as if it said what they are.
    for text in (english, german):
        assert "(Policyholders)" not in text and "(Claimants)" not in text
    assert "| Newsletter | abgelaufen |" in german  # the rest of the letter is as it was
