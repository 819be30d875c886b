"""Tests of core.identifiers: known numbers, every refusal code, and Hypothesis properties."""

import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from stdnum import iban, luhn

from core.identifiers import (
    IDENTIFIER_VALIDATORS,
    normalize_bic,
    normalize_finess,
    normalize_iban,
    normalize_rpps,
    normalize_siren,
    normalize_siret,
    siren_of_siret,
    validate_bic,
    validate_finess,
    validate_iban,
    validate_rpps,
    validate_siren,
    validate_siret,
)

# No example database: the test run must not write a .hypothesis/ directory in the project.
PROPERTY = hypothesis_settings(max_examples=200, database=None, deadline=None)

DIGITS = string.digits
LA_POSTE_SIREN = "356000000"
# Corsica's département letters as the FINESS register reads them for the key.
CORSICA_AS_DIGITS = {"2A": "21", "2B": "22"}
WHITESPACE = [" ", "  ", "\u00a0", "\u202f", "\t"]


def refusal(normalize, value):
    """Return (code, rendered message) of the ValidationError raised by ``normalize(value)``."""
    with pytest.raises(ValidationError) as info:
        normalize(value)
    return info.value.code, info.value.messages[0]


# --- Hypothesis strategies ------------------------------------------------------------------


def digits(size):
    return st.text(alphabet=DIGITS, min_size=size, max_size=size)


def with_luhn_key(body):
    return body + luhn.calc_check_digit(body)


sirens = digits(8).map(with_luhn_key)


@st.composite
def sirets(draw):
    siren = draw(sirens)
    assume(siren != LA_POSTE_SIREN)  # La Poste's establishments follow another rule
    return with_luhn_key(siren + draw(digits(4)))


@st.composite
def finesses(draw):
    department = draw(st.one_of(digits(2), st.sampled_from(sorted(CORSICA_AS_DIGITS))))
    body = draw(digits(6))
    key = luhn.calc_check_digit(CORSICA_AS_DIGITS.get(department, department) + body)
    return department + body + key


rppses = digits(10).map(with_luhn_key)


@st.composite
def french_ibans(draw):
    bban = draw(digits(23))
    return "FR" + iban.calc_check_digits("FR00" + bban) + bban


bics = st.builds(
    lambda bank, country, location, branch: bank + country + location + branch,
    st.text(alphabet=string.ascii_uppercase, min_size=4, max_size=4),
    st.sampled_from(["FR", "BE", "DE", "MC", "GP", "RE"]),
    st.text(alphabet=string.ascii_uppercase + DIGITS, min_size=2, max_size=2),
    st.sampled_from(["", "XXX", "882", "PAR"]),
)


@st.composite
def one_digit_changed(draw, numbers):
    """A valid number with one of its digits replaced by another digit."""
    number = draw(numbers)
    position = draw(st.sampled_from([i for i, char in enumerate(number) if char.isdigit()]))
    new_digit = draw(st.sampled_from(DIGITS).filter(lambda digit: digit != number[position]))
    return number[:position] + new_digit + number[position + 1 :]


@st.composite
def spaced(draw, numbers):
    """A valid number with whitespace (including non-breaking spaces) between characters."""
    number = draw(numbers)
    gaps = draw(
        st.lists(
            st.sampled_from(["", *WHITESPACE]), min_size=len(number) + 1, max_size=len(number) + 1
        )
    )
    return gaps[0] + "".join(char + gap for char, gap in zip(number, gaps[1:], strict=True))


# --- API ------------------------------------------------------------------------------------


def test_identifier_validators_maps_each_kind_to_its_normalizer():
    expected = {
        "siret": normalize_siret,
        "siren": normalize_siren,
        "finess": normalize_finess,
        "rpps": normalize_rpps,
        "iban": normalize_iban,
        "bic": normalize_bic,
    }
    assert expected == IDENTIFIER_VALIDATORS


@pytest.mark.parametrize(
    ("validator", "valid", "invalid"),
    [
        (validate_siret, "73282932000074", "73282932000075"),
        (validate_siren, "404833048", "404833047"),
        (validate_finess, "750712184", "750712185"),
        (validate_rpps, "10000001916", "10000001917"),
        (validate_iban, "FR7630006000011234567890189", "FR7630006000011234567890188"),
        (validate_bic, "AGRIFRPP882", "AGRIFRPP8"),
    ],
)
def test_django_validators_return_none_or_raise(validator, valid, invalid):
    assert validator(valid) is None
    with pytest.raises(ValidationError):
        validator(invalid)


def test_validation_error_exposes_code_params_and_french_message():
    with pytest.raises(ValidationError) as info:
        normalize_siret("732829320000")
    error = info.value
    assert error.code == "siret_length"
    assert error.params == {"length": 12}
    assert error.messages == ["Le SIRET doit comporter 14 chiffres (12 reçus)."]


@pytest.mark.parametrize("kind", sorted(IDENTIFIER_VALIDATORS))
@pytest.mark.parametrize("value", [None, 73282932000074, b"404833048"])
def test_non_text_is_refused_rather_than_converted(kind, value):
    code, message = refusal(IDENTIFIER_VALIDATORS[kind], value)
    assert code == f"{kind}_format"
    assert "sous forme de texte" in message


# --- SIRET ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("73282932000074", "73282932000074"),  # INSEE's example (stdnum, Wikipedia)
        ("732 829 320 00074", "73282932000074"),
        ("732\u00a0829\u00a0320\u00a000074", "73282932000074"),  # copied with no-break spaces
        ("05781313100026", "05781313100026"),  # a leading zero must survive
        ("44126652500019", "44126652500019"),  # found online (python-stdnum test data)
        ("35600000000048", "35600000000048"),  # La Poste's head office: plain Luhn
        ("35600000049837", "35600000049837"),  # La Poste establishment: digit sum 45
        ("356 000 000 09075", "35600000009075"),  # La Poste establishment: digit sum 35
    ],
)
def test_siret_known_valid(value, expected):
    assert normalize_siret(value) == expected


def test_la_poste_establishments_are_not_luhn_valid_but_accepted():
    # The exception matters: these SIRET fail Luhn, their digit sum is a multiple of 5.
    for number in ("35600000049837", "35600000009075"):
        assert not luhn.is_valid(number)
        assert sum(map(int, number)) % 5 == 0
        assert normalize_siret(number) == number


@pytest.mark.parametrize(
    ("value", "code", "rule"),
    [
        ("732829320000", "siret_length", "doit comporter 14 chiffres (12 reçus)"),
        ("732829320000741", "siret_length", "doit comporter 14 chiffres (15 reçus)"),
        ("", "siret_length", "(0 reçu"),
        ("7328293200007A", "siret_format", "ne doit contenir que des chiffres"),
        ("73282932000075", "siret_checksum", "clé de contrôle (algorithme de Luhn) est fausse"),
        # The whole SIRET passes Luhn but its SIREN part does not.
        ("73282932100073", "siret_checksum", "du SIREN 732829321 qu'il contient est fausse"),
        ("35600000049838", "siret_checksum", "somme des chiffres doit être un multiple de 5"),
    ],
)
def test_siret_refusals(value, code, rule):
    refused_code, message = refusal(normalize_siret, value)
    assert refused_code == code
    assert message.startswith("Le SIRET")
    assert rule in message


def test_siret_checksum_message_names_the_number():
    assert refusal(normalize_siret, "73282932000075") == (
        "siret_checksum",
        "Le SIRET 73282932000075 n'est pas valide : "
        "la clé de contrôle (algorithme de Luhn) est fausse.",
    )


def test_siren_of_siret():
    assert siren_of_siret("732 829 320 00074") == "732829320"
    assert siren_of_siret("35600000049837") == LA_POSTE_SIREN
    assert refusal(siren_of_siret, "73282932000075")[0] == "siret_checksum"


@PROPERTY
@given(sirets())
def test_siret_with_computed_key_is_accepted(number):
    assert normalize_siret(number) == number
    assert siren_of_siret(number) == number[:9]


@PROPERTY
@given(one_digit_changed(sirets()))
def test_siret_with_one_digit_changed_is_refused(number):
    assume(not number.startswith(LA_POSTE_SIREN))
    assert refusal(normalize_siret, number)[0] == "siret_checksum"


@PROPERTY
@given(spaced(sirets()))
def test_siret_normalization_ignores_spaces_and_is_idempotent(value):
    number = normalize_siret(value)
    assert number == "".join(value.split())
    assert normalize_siret(number) == number


# --- SIREN ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("404833048", "404833048"),  # python-stdnum's documentation
        ("552 008 443", "552008443"),  # python-stdnum's documentation
        ("552 100 554", "552100554"),  # Peugeot SA (Wikipedia, SIREN article)
        ("267 500 452", "267500452"),  # AP-HP (legal notice of aphp.fr)
        ("356000000", LA_POSTE_SIREN),  # La Poste: its SIREN itself is Luhn-valid
    ],
)
def test_siren_known_valid(value, expected):
    assert normalize_siren(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "rule"),
    [
        ("40483304", "siren_length", "doit comporter 9 chiffres (8 reçus)"),
        ("4048330480", "siren_length", "doit comporter 9 chiffres (10 reçus)"),
        ("4048330A8", "siren_format", "ne doit contenir que des chiffres"),
        ("404833047", "siren_checksum", "clé de contrôle (algorithme de Luhn) est fausse"),
    ],
)
def test_siren_refusals(value, code, rule):
    refused_code, message = refusal(normalize_siren, value)
    assert refused_code == code
    assert message.startswith("Le SIREN")
    assert rule in message


@PROPERTY
@given(sirens)
def test_siren_with_computed_key_is_accepted(number):
    assert normalize_siren(number) == number


@PROPERTY
@given(one_digit_changed(sirens))
def test_siren_with_one_digit_changed_is_refused(number):
    assert refusal(normalize_siren, number)[0] == "siren_checksum"


@PROPERTY
@given(spaced(sirens))
def test_siren_normalization_ignores_spaces_and_is_idempotent(value):
    number = normalize_siren(value)
    assert number == "".join(value.split())
    assert normalize_siren(number) == number


# --- FINESS ---------------------------------------------------------------------------------

# Real FINESS numbers, as published (source in the comment of each group).
REAL_FINESS = [
    # AP-HP (legal entity) and Pitié-Salpêtrière (site), DREES SAE extraction script.
    "750712184",
    "750100125",
    # HCL, AP-HM, AP-HP: the "doublons APHP/APHM/HCL" excluded in SNDS/PMSI scripts.
    "690781810",
    "130786049",
    # Burn centres listed in a PMSI study script, with overseas ones (971, 972, 974, 98).
    "330781196",
    "310781406",
    "590780193",
    "970100228",
    "970211207",  # CHU de Martinique
    "970408589",
    "980500003",
    # Corse-du-Sud, ARS Corse decrees (RAA 2A-2024-029, 2A-2025-178): CH Bonifacio,
    # Centre Ile de Beauté, CRF les Molini, CH Castelluccio, CH Sartène.
    "2A0000170",
    "2A0000261",
    "2A0002051",
    "2A0000386",
    "2A0002606",
    # Haute-Corse, ARS Corse decrees (RAA 2B-2024-02-015, 2B-2024-07-003): CH Bastia,
    # CH Calvi, CHI Corte-Tattone, EHPAD La Chenaie, EHPAD CH Bastia.
    "2B0000020",
    "2B0005342",
    "2B0004246",
    "2B0000442",
    "2B0003628",
]


@pytest.mark.parametrize("number", REAL_FINESS)
def test_finess_real_numbers_are_valid(number):
    assert normalize_finess(number) == number


def test_finess_corsica_reads_2a_2b_as_21_22_not_20_21():
    # Published numbers settle it: the 2A->0 / 2B->1 reading found in some code fails them.
    corsican = [number for number in REAL_FINESS if number[:2] in CORSICA_AS_DIGITS]
    for number in corsican:
        assert luhn.is_valid(CORSICA_AS_DIGITS[number[:2]] + number[2:])
        assert not luhn.is_valid(number.replace("A", "0").replace("B", "1"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("75 071 218 4", "750712184"),
        ("2b 000 002 0", "2B0000020"),  # lower-case Corsican letter
        ("2a\u00a00000170", "2A0000170"),
    ],
)
def test_finess_normalization(value, expected):
    assert normalize_finess(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "rule"),
    [
        ("75071218", "finess_length", "doit comporter 9 caractères (8 reçus)"),
        ("7507121840", "finess_length", "doit comporter 9 caractères (10 reçus)"),
        ("2C0000020", "finess_format", "2 chiffres, ou 2A ou 2B pour la Corse"),
        ("A20000020", "finess_format", "suivi de 7 chiffres"),
        ("75071218X", "finess_format", "suivi de 7 chiffres"),
        ("750712185", "finess_checksum", "clé de contrôle (algorithme de Luhn) est fausse"),
        ("2A0000171", "finess_checksum", "clé de contrôle (algorithme de Luhn) est fausse"),
        ("2A0000020", "finess_checksum", "clé de contrôle (algorithme de Luhn) est fausse"),
    ],
)
def test_finess_refusals(value, code, rule):
    refused_code, message = refusal(normalize_finess, value)
    assert refused_code == code
    assert message.startswith("Le numéro FINESS")
    assert rule in message


@PROPERTY
@given(finesses())
def test_finess_with_computed_key_is_accepted(number):
    assert normalize_finess(number) == number
    assert normalize_finess(number.lower()) == number


@PROPERTY
@given(one_digit_changed(finesses()))
def test_finess_with_one_digit_changed_is_refused(number):
    # Only "2A"/"2B" with its 2 replaced ("5A...") breaks the layout; anything else the key.
    corsica_broken = number[1] in "AB" and number[0] != "2"
    expected = "finess_format" if corsica_broken else "finess_checksum"
    assert refusal(normalize_finess, number)[0] == expected


@PROPERTY
@given(spaced(finesses()))
def test_finess_normalization_ignores_spaces_and_is_idempotent(value):
    number = normalize_finess(value)
    assert number == "".join(value.split())
    assert normalize_finess(number) == number


# --- RPPS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10000001916", "10000001916"),  # ANS Annuaire Santé FHIR guide, practitioner-exemple-1
        ("810000001916", "10000001916"),  # its national identifier (IDNPS): 8 + RPPS
        ("100 0000 1916", "10000001916"),
        ("10002727377", "10002727377"),  # from a public Annuaire Santé fixture
    ],
)
def test_rpps_known_valid(value, expected):
    assert normalize_rpps(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "rule"),
    [
        ("1000000191", "rpps_length", "doit comporter 11 chiffres, ou 12 avec le préfixe 8"),
        ("1000000191", "rpps_length", "(10 reçus)"),
        ("8100000019160", "rpps_length", "(13 reçus)"),
        ("", "rpps_length", "(0 reçu"),
        ("1000000191A", "rpps_format", "ne doit contenir que des chiffres"),
        ("910000001916", "rpps_format", "le préfixe 8 suivi des 11 chiffres du RPPS"),
        ("10000001917", "rpps_checksum", "clé de contrôle (algorithme de Luhn) est fausse"),
        ("810000001917", "rpps_checksum", "10000001917 n'est pas valide"),
    ],
)
def test_rpps_refusals(value, code, rule):
    refused_code, message = refusal(normalize_rpps, value)
    assert refused_code == code
    assert message.startswith("Le numéro RPPS")
    assert rule in message


@PROPERTY
@given(rppses)
def test_rpps_with_computed_key_is_accepted_alone_or_as_national_identifier(number):
    assert normalize_rpps(number) == number
    assert normalize_rpps("8" + number) == number


@PROPERTY
@given(one_digit_changed(rppses))
def test_rpps_with_one_digit_changed_is_refused(number):
    assert refusal(normalize_rpps, number)[0] == "rpps_checksum"


@PROPERTY
@given(spaced(rppses))
def test_rpps_normalization_ignores_spaces_and_is_idempotent(value):
    number = normalize_rpps(value)
    assert number == "".join(value.split())
    assert normalize_rpps(number) == number


# --- IBAN -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("fr76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),  # lower case
        ("GR16 0110 1050 0000 1054 7023 795", "GR1601101050000010547023795"),  # stdnum doc
        ("BE31435411161155", "BE31435411161155"),  # python-stdnum's documentation
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),  # ISO 13616 example
        ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),  # letters in the BBAN
        ("MC58 1122 2000 0101 2345 6789 030", "MC5811222000010123456789030"),  # Monaco
    ],
)
def test_iban_known_valid(value, expected):
    assert normalize_iban(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "rule"),
    [
        ("7630006000011234567890189", "iban_format", "code pays (2 lettres) et la clé"),
        ("FR76_3000_6000_0112_3456_7890_189", "iban_format", "lettres et de chiffres uniquement"),
        # Check digits fine for mod 97, but a letter where France's BBAN wants digits.
        (
            "FR783000A000011234567890189",
            "iban_format",
            "BBAN) ne respecte pas le format du pays FR",
        ),
        ("XX7630006000011234567890189", "iban_country", "code pays XX n'est pas reconnu"),
        ("FR763000600001123456789018", "iban_length", "pays FR doit comporter 27 caractères"),
        ("FR763000600001123456789018", "iban_length", "(26 reçus)"),
        ("DE8937040044053201300", "iban_length", "pays DE doit comporter 22 caractères (21 reçus)"),
        ("FR7630006000011234567890188", "iban_checksum", "clé de contrôle (modulo 97"),
        ("FR7630006000011234567890198", "iban_checksum", "norme ISO 13616) est fausse"),
    ],
)
def test_iban_refusals(value, code, rule):
    refused_code, message = refusal(normalize_iban, value)
    assert refused_code == code
    assert "IBAN" in message
    assert rule in message


@PROPERTY
@given(french_ibans())
def test_iban_with_computed_key_is_accepted(number):
    assert normalize_iban(number) == number
    assert normalize_iban(number.lower()) == number


@PROPERTY
@given(one_digit_changed(french_ibans()))
def test_iban_with_one_digit_changed_is_refused(number):
    assert refusal(normalize_iban, number)[0] == "iban_checksum"


@PROPERTY
@given(spaced(french_ibans()))
def test_iban_normalization_ignores_spaces_and_is_idempotent(value):
    number = normalize_iban(value)
    assert number == "".join(value.split())
    assert normalize_iban(number) == number


# --- BIC ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AGRIFRPP882", "AGRIFRPP882"),  # python-stdnum's documentation
        ("AGRIFRPP", "AGRIFRPP"),
        ("agri fr pp 882", "AGRIFRPP882"),
        ("ABNA BE 2A", "ABNABE2A"),  # python-stdnum's documentation
        ("BNPAFRPPXXX", "BNPAFRPPXXX"),
    ],
)
def test_bic_known_valid(value, expected):
    assert normalize_bic(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "rule"),
    [
        ("AGRIFRPP8", "bic_length", "doit comporter 8 ou 11 caractères (9 reçus)"),
        ("AGRIFRP", "bic_length", "(7 reçus)"),
        ("AGRIF2PP", "bic_format", "4 lettres (banque), 2 lettres (pays)"),
        ("AGR1FRPP", "bic_format", "4 lettres (banque)"),
        ("AGRIFRP_", "bic_format", "2 lettres ou chiffres (localité)"),
        ("AGRIQQPP", "bic_country", "le code pays QQ n'existe pas"),
    ],
)
def test_bic_refusals(value, code, rule):
    refused_code, message = refusal(normalize_bic, value)
    assert refused_code == code
    assert message.startswith("Le BIC")
    assert rule in message


@PROPERTY
@given(bics)
def test_bic_normalization_is_case_and_space_insensitive_and_idempotent(number):
    assert normalize_bic(number) == number
    assert normalize_bic(" ".join([number[:4], number[4:6].lower(), number[6:]])) == number
    assert normalize_bic(normalize_bic(number)) == number


def test_build_siret_gives_valid_siret_and_siren():
    from core.identifiers import build_siret

    siret = build_siret("90000001", "0001")
    assert normalize_siret(siret) == siret
    assert normalize_siren(siret[:9]) == siret[:9]
