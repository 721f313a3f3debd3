"""`manage.py bench_data --scale N`: replace the database's data with the
benchmark dataset (bench/dataset.py; the README's Performance section)."""

from django.core.management.base import BaseCommand, CommandError

DEFAULT_SCALE = 100_000


class Command(BaseCommand):
    help = (
        "Generate the benchmark dataset through COPY: N issues over three years with "
        "users, labels, comments, timelines and daily stats. DELETES all existing data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=int,
            default=None,
            help=f"issues (default {DEFAULT_SCALE}; with --if-needed, default: any scale present)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--chunk-size", type=int, default=10_000, help="issues per chunk")
        parser.add_argument("--workers", type=int, default=None, help="generator processes")
        parser.add_argument(
            "--if-needed",
            action="store_true",
            help="do nothing if the database already holds this scale and seed",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace data even if the database does not hold a benchmark dataset",
        )

    def handle(self, *args, scale, seed, chunk_size, workers, if_needed, force, **options):
        # bench/ is the benchmark harness, not part of the app: imported only here.
        from bench import dataset

        if scale is not None and scale < 1:
            raise CommandError("--scale must be at least 1.")
        if if_needed:
            # No --scale: whatever size is there will do. A million issues take
            # minutes to generate, so a run without SCALE must not replace them.
            existing = dataset.current()
            same = existing and (existing.seed, existing.version) == (
                seed,
                dataset.GENERATOR_VERSION,
            )
            if same and scale in (None, existing.scale):
                self.stdout.write(
                    f"Dataset of {existing.scale:,} issues (seed {seed}) already present, "
                    f"generated {existing.generated_at:%Y-%m-%d %H:%M} UTC."
                )
                return
        scale = DEFAULT_SCALE if scale is None else scale
        self.stdout.write(f"Generating {scale:,} issues (seed {seed}) ...")
        try:
            result = dataset.generate(
                scale=scale,
                seed=seed,
                chunk_size=chunk_size,
                workers=workers,
                force=force,
                log=self.stdout.write,
            )
        except dataset.DatasetRefused as exc:
            raise CommandError(str(exc)) from None
        counts = result.info["counts"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {counts['issues']:,} issues, {counts['comments']:,} comments, "
                f"{counts['events']:,} events, {counts['labels']:,} label links, "
                f"{counts['watches']:,} watches, {result.info['daily_stats']:,} daily stats "
                f"in {result.seconds:.0f} s {result.info['timings']}."
            )
        )
