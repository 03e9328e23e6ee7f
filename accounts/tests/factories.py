import factory

from accounts.models import BrokerCredential, User

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
