"""StrategyExecution.scheduled_time is called candle_close in the code, as everywhere along
the candle-close path; the column keeps its name (db_column), so the database is
untouched."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0004_candles_and_backtests_leave"),
        ("strategies", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField(
                    model_name="strategyexecution",
                    old_name="scheduled_time",
                    new_name="candle_close",
                ),
                migrations.AlterField(
                    model_name="strategyexecution",
                    name="candle_close",
                    field=models.DateTimeField(
                        db_column="scheduled_time", help_text="The candle close this run is for."
                    ),
                ),
                # The ordering, the constraint and the indexes name the field: the same
                # ones (same names, same columns) over the new name.
                migrations.AlterModelOptions(
                    name='strategyexecution',
                    options={'ordering': ['-candle_close']},
                ),
                migrations.RemoveConstraint(
                    model_name='strategyexecution',
                    name='one_execution_per_strategy_close',
                ),
                migrations.RemoveIndex(
                    model_name='strategyexecution',
                    name='executions__strateg_be8cc7_idx',
                ),
                migrations.RemoveIndex(
                    model_name='strategyexecution',
                    name='executions__symbol_f60f94_idx',
                ),
                migrations.AddIndex(
                    model_name='strategyexecution',
                    index=models.Index(fields=['strategy', '-candle_close'], name='executions__strateg_be8cc7_idx'),
                ),
                migrations.AddIndex(
                    model_name='strategyexecution',
                    index=models.Index(fields=['symbol', 'resolution', '-candle_close'], name='executions__symbol_f60f94_idx'),
                ),
                migrations.AddConstraint(
                    model_name='strategyexecution',
                    constraint=models.UniqueConstraint(fields=('strategy', 'candle_close'), name='one_execution_per_strategy_close'),
                ),
            ],
        ),
    ]
