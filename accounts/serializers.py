from rest_framework import serializers

from .models import User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email"]


class CredentialsInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class AuthOutputSerializer(serializers.Serializer):
    user = UserSerializer()
    token = serializers.CharField()
    refresh = serializers.CharField()


class MeOutputSerializer(serializers.Serializer):
    user = UserSerializer()


class TokensOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    refresh = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()
