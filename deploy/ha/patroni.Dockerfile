# PostgreSQL 15 + PostGIS + pgRouting managed by Patroni, all from Debian 12 (the same packages
# bench/failover.py runs on loopback). Used by the `ha` profile of docker-compose.yml.
FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        patroni postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/patroni /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY --chmod=0755 post_bootstrap.sh /etc/patroni/post_bootstrap.sh
COPY patroni.yml /etc/patroni/patroni.yml
USER postgres
EXPOSE 5432 8008
CMD ["patroni", "/etc/patroni/patroni.yml"]
