"""Background tasks of the intake (run by `manage.py db_worker`)."""

from django_tasks import task

from amiable.intake.services import import_job_execute


@task()
def import_job_run(job_id: str) -> None:
    import_job_execute(job_id=job_id)
