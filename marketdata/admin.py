from django.contrib import admin

from .models import Candle


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "resolution", "open_time", "open", "high", "low", "close", "volume"]
    list_filter = ["symbol", "resolution"]
    date_hierarchy = "open_time"
