"""Candle leaves for the marketdata app, Backtest and BacktestTrade for the backtests app.
Their tables stay as they are (executions_candle, executions_backtest,
executions_backtesttrade): only the state moves, and the content types with it."""

from django.db import migrations

# The content types (and so the permissions and admin log entries) follow the models.
MOVED = (("candle", "marketdata"), ("backtest", "backtests"), ("backtesttrade", "backtests"))


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED:
        if not content_type.objects.filter(app_label=app_label, model=model).exists():
            content_type.objects.filter(app_label="executions", model=model).update(
                app_label=app_label
            )


def move_content_types_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED:
        if not content_type.objects.filter(app_label="executions", model=model).exists():
            content_type.objects.filter(app_label=app_label, model=model).update(
                app_label="executions"
            )




class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('marketdata', '0001_initial'),
        ('executions', '0003_trade_indexes_for_the_engine'),
    ]

    operations = [
        # The table stays where it is: only Django's picture of which app owns it moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='backtest',
                    name='strategy',
                ),
                migrations.RemoveField(
                    model_name='backtest',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='backtesttrade',
                    name='backtest',
                ),
                migrations.DeleteModel(
                    name='Candle',
                ),
                migrations.DeleteModel(
                    name='Backtest',
                ),
                migrations.DeleteModel(
                    name='BacktestTrade',
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
