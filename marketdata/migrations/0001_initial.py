"""Candles move here from the executions app; their table keeps its name (executions_candle),
created by executions.0001: this migration only tells Django the model is ours now."""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        # The table stays where it is: only Django's picture of which app owns it moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Candle',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('symbol', models.CharField(max_length=30)),
                        ('resolution', models.PositiveIntegerField(choices=[(1, '1m'), (5, '5m'), (15, '15m'), (30, '30m'), (60, '60m'), (240, '240m'), (1440, '1440m')])),
                        ('open_time', models.DateTimeField()),
                        ('open', models.DecimalField(decimal_places=8, max_digits=24)),
                        ('high', models.DecimalField(decimal_places=8, max_digits=24)),
                        ('low', models.DecimalField(decimal_places=8, max_digits=24)),
                        ('close', models.DecimalField(decimal_places=8, max_digits=24)),
                        ('volume', models.DecimalField(decimal_places=8, max_digits=30)),
                    ],
                    options={
                        'db_table': 'executions_candle',
                        'ordering': ['symbol', 'resolution', 'open_time'],
                        'constraints': [models.UniqueConstraint(fields=('symbol', 'resolution', 'open_time'), name='one_candle_per_bar')],
                    },
                ),
            ],
        ),
    ]
