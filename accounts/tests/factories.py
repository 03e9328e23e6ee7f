import factory

from accounts.models import BrokerCredential, User
from accounts.services import broker_credential_seal

TEST_PASSWORD = "Corr3ct-Horse-Battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"trader{n}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class BrokerCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerCredential

    user = factory.SubFactory(UserFactory)
    broker_name = BrokerCredential.PAPER
    api_key = factory.Sequence(lambda n: f"paper-key-{n:08d}-ABCD")
    api_secret = factory.Sequence(lambda n: f"paper-secret-{n:08d}-very-secret")

    @classmethod
    def _create(cls, model_class, *args, api_key: str, api_secret: str, **kwargs):
        credential = model_class(*args, **kwargs)
        broker_credential_seal(credential=credential, api_key=api_key, api_secret=api_secret)
        credential.save()
        # The plaintext stays on the instance the test holds, for its assertions only.
        credential.api_key, credential.api_secret = api_key, api_secret
        return credential
