-- One row per genotype call. ReplacingMergeTree on the call's identity makes redelivery harmless:
-- duplicates collapse on merge, and queries through variant_calls_current (FINAL) never see them.
CREATE TABLE IF NOT EXISTS {db}.variant_calls
(
    event_id          String,
    call_index        UInt32,
    patient_id        String,
    sample_id         String,
    source_kind       LowCardinality(String),
    assembly          LowCardinality(String),
    chrom             LowCardinality(String),
    pos               UInt64,
    ref               String,
    alts              Array(String),
    gt                Array(Nullable(Int16)),
    zygosity          LowCardinality(String),
    phased            Bool,
    phase_set         Nullable(Int64),
    depth             Nullable(Int32),
    genotype_quality  Nullable(Int32),
    quality           Nullable(Float64),
    filters           Array(LowCardinality(String)),
    variant_id        Nullable(String),
    gene              LowCardinality(Nullable(String)),
    record_ref        String,
    source_id         String,
    source_sha256     String,
    lab               Nullable(String),
    connector         LowCardinality(String),
    pipeline_version  LowCardinality(String),
    ingested_at       DateTime64(3, 'UTC'),
    published_at      DateTime64(3, 'UTC'),
    kafka_topic       LowCardinality(String),
    kafka_partition   UInt32,
    kafka_offset      UInt64,
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (patient_id, chrom, pos, event_id, call_index)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE VIEW IF NOT EXISTS {db}.variant_calls_current AS
SELECT * EXCEPT (inserted_at, kafka_topic, kafka_partition, kafka_offset)
FROM {db}.variant_calls FINAL;
