"""A CPU-bound UDF job for the Slurm executor (README: "Run it on Slurm").

    build/udfenv run --target slurm -D udfenv.slurm.staging-dir=... -py examples/slurm/job.py IN.csv OUT.csv

Each row's UDF counts the primes below a bound, so the job's time is the
UDF's; the input is split between the Slurm tasks.
"""
import sys

from udfenv import TableEnvironment, DataTypes, udf


@udf(result_type=DataTypes.BIGINT())
def primes_below(n):
    """By trial division, on purpose: pure Python work."""
    count = 0
    for k in range(2, n):
        d = 2
        while d * d <= k and k % d:
            d += 1
        count += d * d > k
    return count


if __name__ == "__main__":
    t_env = TableEnvironment.create()
    t = t_env.from_csv(sys.argv[1])
    r = t.select(t.id, primes_below(t.bound).alias("primes")).write_csv(sys.argv[2], overwrite=True)
    print("%d rows in %.1f s (setup %.1f s) on %d task(s)" % (r.rows_out, r.seconds, r.setup_seconds, r.workers))
