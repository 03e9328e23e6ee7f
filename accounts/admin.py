from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import BrokerCredential, User
from .services import broker_credential_seal
from .signals import positions_flatten_requested


@admin.action(description="Flatten: close every open position of the selected users")
def flatten_users(modeladmin, request, queryset):
    ids = list(queryset.values_list("id", flat=True))
    positions_flatten_requested.send(sender=User, user_ids=ids)
    modeladmin.message_user(request, f"Positions of {len(ids)} user(s) closing.", messages.SUCCESS)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    actions = [flatten_users]
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class BrokerCredentialForm(forms.ModelForm):
    """The key and secret can be replaced (sealed on save) but are never rendered back,
    not even masked: the admin, like the web process it runs in, cannot open them."""

    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current key.",
    )
    api_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current secret.",
    )

    class Meta:
        model = BrokerCredential
        fields = ["user", "broker_name", "is_active", "inactive_reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.fields["api_key"].required = True
            self.fields["api_secret"].required = True

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("api_key")) != bool(cleaned.get("api_secret")):
            raise forms.ValidationError("Replace the key and the secret together.")
        return cleaned

    def save(self, commit=True):
        credential = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            broker_credential_seal(
                credential=credential,
                api_key=self.cleaned_data["api_key"],
                api_secret=self.cleaned_data["api_secret"],
            )
        if commit:
            credential.save()
        return credential


@admin.register(BrokerCredential)
class BrokerCredentialAdmin(admin.ModelAdmin):
    form = BrokerCredentialForm
    list_display = [
        "user",
        "broker_name",
        "masked_key",
        "is_active",
        "inactive_reason",
        "created_at",
    ]
    list_filter = ["broker_name", "is_active"]
    search_fields = ["user__email", "broker_name"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]

    @admin.display(description="API key")
    def masked_key(self, obj: BrokerCredential) -> str:
        return f"…{obj.api_key_last4}"
