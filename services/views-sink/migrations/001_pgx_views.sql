-- PGx views fed by the views sink from pgx.profiles.v1 and pgx.alerts.v1. Every table is idempotent
-- by the Kafka position of the event (ReplacingMergeTree keyed by partition and offset, or argMax
-- states), so redelivery after a crash never shows a duplicate to queries.

-- Every version of every profile (history), one row per profile event; tombstones (consent
-- withdrawn) are rows with is_deleted = 1.
CREATE TABLE IF NOT EXISTS {db}.pgx_profile_versions
(
    patient_id         String,
    gene               LowCardinality(String),
    status             LowCardinality(String),
    source             LowCardinality(String),
    diplotype          Nullable(String),
    diplotypes         Array(String),
    phenotype          Nullable(String),
    activity_score     Nullable(String),
    missing_positions  Array(String),
    warnings           Array(String),
    evidence           Array(String),
    source_ids         Array(String),
    labs               Array(String),
    kb_version         LowCardinality(String),
    pipeline_version   LowCardinality(String),
    computed_at        DateTime64(3, 'UTC'),
    profile_id         String,
    is_deleted         UInt8,
    published_at       DateTime64(3, 'UTC'),
    kafka_topic        LowCardinality(String),
    kafka_partition    UInt32,
    kafka_offset       UInt64,
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (patient_id, gene, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 10000;

-- The current profile per patient and gene: the latest event of the key wins (one key stays on one
-- partition, so its offsets are ordered); a tombstone deletes it.
CREATE TABLE IF NOT EXISTS {db}.pgx_profiles_latest
(
    patient_id         String,
    gene               LowCardinality(String),
    status             LowCardinality(String),
    source             LowCardinality(String),
    diplotype          Nullable(String),
    diplotypes         Array(String),
    phenotype          Nullable(String),
    activity_score     Nullable(String),
    missing_positions  Array(String),
    warnings           Array(String),
    evidence           Array(String),
    source_ids         Array(String),
    labs               Array(String),
    kb_version         LowCardinality(String),
    pipeline_version   LowCardinality(String),
    computed_at        DateTime64(3, 'UTC'),
    profile_id         String,
    is_deleted         UInt8,
    published_at       DateTime64(3, 'UTC'),
    kafka_partition    UInt32,
    kafka_offset       UInt64
)
ENGINE = ReplacingMergeTree(kafka_offset, is_deleted)
ORDER BY (patient_id, gene);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.pgx_profiles_latest_mv TO {db}.pgx_profiles_latest AS
SELECT patient_id, gene, status, source, diplotype, diplotypes, phenotype, activity_score, missing_positions, warnings,
       evidence, source_ids, labs, kb_version, pipeline_version, computed_at, profile_id, is_deleted, published_at,
       kafka_partition, kafka_offset
FROM {db}.pgx_profile_versions;

CREATE VIEW IF NOT EXISTS {db}.pgx_profiles AS
SELECT * EXCEPT (is_deleted)
FROM {db}.pgx_profiles_latest FINAL
WHERE is_deleted = 0;

-- One row per alert event (ACTIVE or WITHDRAWN).
CREATE TABLE IF NOT EXISTS {db}.pgx_alert_events
(
    alert_id             String,
    patient_id           String,
    drug                 LowCardinality(String),
    rxnorm               Array(String),
    status               LowCardinality(String),
    supersedes_alert_id  Nullable(String),
    genes                Array(String),
    phenotypes           Map(String, String),
    population           Nullable(String),
    implication          Nullable(String),
    recommendation       String,
    classification       LowCardinality(String),
    alternatives         Array(String),
    guideline_name       String,
    guideline_url        String,
    evidence             Array(String),
    reason               Nullable(String),
    kb_version           LowCardinality(String),
    pipeline_version     LowCardinality(String),
    created_at           DateTime64(3, 'UTC'),
    published_at         DateTime64(3, 'UTC'),
    kafka_topic          LowCardinality(String),
    kafka_partition      UInt32,
    kafka_offset         UInt64,
    inserted_at          DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (patient_id, drug, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 10000;

-- Alerts with their state: 'active' (the latest ACTIVE event for the patient, drug and CPIC population),
-- 'superseded' (a later ACTIVE replaced it) or 'withdrawn' (a WITHDRAWN event closed it, or it is
-- that event). source_ids and labs come from the profile versions named in the alert's evidence.
CREATE VIEW IF NOT EXISTS {db}.pgx_alerts AS
SELECT
    a.alert_id AS alert_id, a.patient_id AS patient_id, a.drug AS drug, a.rxnorm AS rxnorm, a.status AS status,
    multiIf(a.status = 'WITHDRAWN', 'withdrawn', a.next_status = '', 'active', a.next_status = 'WITHDRAWN', 'withdrawn', 'superseded') AS state,
    nullIf(a.next_alert_id, '') AS superseded_by, a.supersedes_alert_id AS supersedes_alert_id,
    a.genes AS genes, a.phenotypes AS phenotypes, a.population AS population, a.implication AS implication,
    a.recommendation AS recommendation, a.classification AS classification, a.alternatives AS alternatives,
    a.guideline_name AS guideline_name, a.guideline_url AS guideline_url, a.evidence AS evidence, a.reason AS reason,
    l.source_ids AS source_ids, l.labs AS labs,
    a.kb_version AS kb_version, a.pipeline_version AS pipeline_version, a.created_at AS created_at, a.published_at AS published_at,
    a.kafka_partition AS kafka_partition, a.kafka_offset AS kafka_offset
FROM
(
    SELECT *,
        leadInFrame(toString(status), 1, '') OVER w AS next_status,
        leadInFrame(alert_id, 1, '') OVER w AS next_alert_id
    FROM {db}.pgx_alert_events FINAL
    WINDOW w AS (PARTITION BY patient_id, drug, ifNull(population, '') ORDER BY kafka_offset ASC ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING)
) AS a
LEFT JOIN
(
    SELECT e.patient_id AS patient_id, e.kafka_partition AS kafka_partition, e.kafka_offset AS kafka_offset,
        arraySort(arrayDistinct(arrayFlatten(groupArray(v.source_ids)))) AS source_ids,
        arraySort(arrayDistinct(arrayFlatten(groupArray(v.labs)))) AS labs
    FROM (SELECT patient_id, kafka_partition, kafka_offset, arrayJoin(evidence) AS ev FROM {db}.pgx_alert_events FINAL) AS e
    INNER JOIN (SELECT DISTINCT patient_id, profile_id, source_ids, labs FROM {db}.pgx_profile_versions) AS v
        ON v.patient_id = e.patient_id AND v.profile_id = e.ev
    GROUP BY e.patient_id, e.kafka_partition, e.kafka_offset
) AS l
ON l.patient_id = a.patient_id AND l.kafka_partition = a.kafka_partition AND l.kafka_offset = a.kafka_offset;

CREATE VIEW IF NOT EXISTS {db}.pgx_alerts_active AS
SELECT * FROM {db}.pgx_alerts WHERE state = 'active';

-- Cohort counts: the materialized view keeps, per gene and patient, the latest status, phenotype and
-- diplotype (argMax by Kafka offset, so redelivery and changed profiles count once, as they are now).
CREATE TABLE IF NOT EXISTS {db}.pgx_cohort_state
(
    gene        LowCardinality(String),
    patient_id  String,
    status      AggregateFunction(argMax, String, UInt64),
    phenotype   AggregateFunction(argMax, String, UInt64),
    diplotype   AggregateFunction(argMax, String, UInt64),
    deleted     AggregateFunction(argMax, UInt8, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (gene, patient_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.pgx_cohort_state_mv TO {db}.pgx_cohort_state AS
SELECT
    gene,
    patient_id,
    argMaxState(toString(status), kafka_offset) AS status,
    argMaxState(ifNull(phenotype, ''), kafka_offset) AS phenotype,
    argMaxState(ifNull(diplotype, ''), kafka_offset) AS diplotype,
    argMaxState(is_deleted, kafka_offset) AS deleted
FROM {db}.pgx_profile_versions
GROUP BY gene, patient_id;

CREATE VIEW IF NOT EXISTS {db}.pgx_cohort_counts AS
SELECT gene, status, nullIf(phenotype, '') AS phenotype, nullIf(diplotype, '') AS diplotype, count() AS patients
FROM
(
    SELECT gene, patient_id, argMaxMerge(status) AS status, argMaxMerge(phenotype) AS phenotype,
        argMaxMerge(diplotype) AS diplotype, argMaxMerge(deleted) AS deleted
    FROM {db}.pgx_cohort_state
    GROUP BY gene, patient_id
)
WHERE deleted = 0
GROUP BY gene, status, phenotype, diplotype;
