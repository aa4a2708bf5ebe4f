-- Webhook subscriptions to PGx alerts, and the delivery log.
CREATE TABLE IF NOT EXISTS {db}.webhook_subscriptions
(
    id          String,
    url         String,
    secret      String,
    drugs       Array(String),
    active      UInt8,
    created_by  String,
    created_at  DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS {db}.webhook_deliveries
(
    delivery_id      String,
    subscription_id  String,
    alert_id         String,
    drug             LowCardinality(String),
    attempt          UInt16,
    outcome          LowCardinality(String),
    status_code      Nullable(UInt16),
    error            Nullable(String),
    duration_ms      Float64,
    at               DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (subscription_id, at);
