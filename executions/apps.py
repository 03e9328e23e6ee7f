from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "executions"

    def ready(self) -> None:
        from celery.signals import worker_init, worker_process_init

        from accounts.signals import positions_flatten_requested
        from executions import checks  # noqa: F401  (registers the system checks)
        from executions.positions import on_positions_flatten_requested

        # Once per worker before its pool starts (solo and threads pools run strategies in
        # that process), and again in every prefork child, the process that runs them.
        worker_init.connect(_check_sandbox_at_worker_start, weak=False)
        worker_process_init.connect(_check_sandbox_at_worker_start, weak=False)
        positions_flatten_requested.connect(on_positions_flatten_requested, weak=False)


def _check_sandbox_at_worker_start(**kwargs) -> None:
    from executions.worker_guard import confinement_check, make_process_undumpable

    make_process_undumpable()
    confinement_check()
