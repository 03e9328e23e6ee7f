"""Backtests move here from the executions app; their tables keep their names
(executions_backtest, executions_backtesttrade), created by executions.0002: this
migration only tells Django the models are ours now."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('executions', '0004_candles_and_backtests_leave'),
        ('strategies', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The table stays where it is: only Django's picture of which app owns it moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Backtest',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('symbol', models.CharField(max_length=30)),
                        ('resolution', models.PositiveIntegerField(choices=[(1, '1m'), (5, '5m'), (15, '15m'), (30, '30m'), (60, '60m'), (240, '240m'), (1440, '1440m')])),
                        ('start', models.DateTimeField(help_text='First candle close replayed.')),
                        ('end', models.DateTimeField(help_text='Last candle close replayed.')),
                        ('params', models.JSONField(default=dict)),
                        ('status', models.CharField(choices=[('QUEUED', 'Queued'), ('RUNNING', 'Running'), ('COMPLETED', 'Completed'), ('FAILED', 'Failed')], default='QUEUED', max_length=10)),
                        ('progress_done', models.PositiveIntegerField(default=0)),
                        ('progress_total', models.PositiveIntegerField(default=0)),
                        ('metrics', models.JSONField(blank=True, null=True)),
                        ('equity_curve', models.JSONField(blank=True, default=list)),
                        ('missing_candles', models.JSONField(blank=True, default=list)),
                        ('missing_candles_count', models.PositiveIntegerField(default=0)),
                        ('error_message', models.TextField(blank=True, default='')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('completed_at', models.DateTimeField(blank=True, null=True)),
                        ('strategy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='backtests', to='strategies.strategy')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='backtests', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'executions_backtest',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='BacktestTrade',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('side', models.CharField(choices=[('BUY', 'Buy'), ('SELL', 'Sell')], max_length=4)),
                        ('quantity', models.DecimalField(decimal_places=12, max_digits=30)),
                        ('entry_time', models.DateTimeField(help_text='The candle close the position opened at.')),
                        ('entry_price', models.DecimalField(decimal_places=8, max_digits=24)),
                        ('stop_loss', models.DecimalField(decimal_places=8, max_digits=24)),
                        ('take_profit', models.DecimalField(blank=True, decimal_places=8, max_digits=24, null=True)),
                        ('exit_time', models.DateTimeField(blank=True, null=True)),
                        ('exit_price', models.DecimalField(blank=True, decimal_places=8, max_digits=24, null=True)),
                        ('exit_reason', models.CharField(blank=True, choices=[('STOP_LOSS', 'Stop Loss'), ('TAKE_PROFIT', 'Take Profit'), ('SIGNAL', 'Signal'), ('EXIT', 'Exit'), ('END', 'End')], max_length=12)),
                        ('fee', models.DecimalField(decimal_places=8, default=0, help_text='Entry plus exit fees.', max_digits=24)),
                        ('pnl', models.DecimalField(blank=True, decimal_places=8, help_text='Net of fees.', max_digits=24, null=True)),
                        ('backtest', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='trades', to='backtests.backtest')),
                    ],
                    options={
                        'db_table': 'executions_backtesttrade',
                        'ordering': ['entry_time', 'id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='backtest',
                    index=models.Index(fields=['strategy', 'user', '-created_at'], name='executions__strateg_ca7b22_idx'),
                ),
                migrations.AddIndex(
                    model_name='backtest',
                    index=models.Index(fields=['status', 'created_at'], name='executions__status_aca969_idx'),
                ),
                migrations.AddIndex(
                    model_name='backtesttrade',
                    index=models.Index(fields=['backtest', 'entry_time'], name='executions__backtes_26ee4c_idx'),
                ),
            ],
        ),
    ]
