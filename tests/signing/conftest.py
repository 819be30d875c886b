import pytest

from tests.signing import oidc_provider
from tests.signing.helpers import PSC_RPPS as RPPS


@pytest.fixture
def provider(settings):
    provider = oidc_provider.start(
        oidc_provider.Provider(
            claims={
                "sub": "psc-f7c1",
                "SubjectNameID": f"8{RPPS}",
                "given_name": "Marie",
                "family_name": "Curie",
                "email": "marie.curie@example.invalid",
            }
        )
    )
    settings.SIGNING_PSC_DISCOVERY_URL = provider.discovery_url
    settings.SIGNING_PSC_CLIENT_ID = oidc_provider.CLIENT_ID
    settings.SIGNING_PSC_CLIENT_SECRET = oidc_provider.CLIENT_SECRET
    yield provider
    oidc_provider.stop(provider)
