from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "executions"

    def ready(self) -> None:
        from celery.signals import worker_init

        from executions import checks  # noqa: F401  (registers the system checks)

        # Once per worker, before its pool starts: prefork children inherit the result.
        worker_init.connect(_check_sandbox_at_worker_start, weak=False)


def _check_sandbox_at_worker_start(**kwargs) -> None:
    from executions.worker_guard import confinement_check

    confinement_check()
