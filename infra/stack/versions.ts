/**
 * Pinned versions of everything the native stack installs. Changing one invalidates the matching
 * install marker, so the next `install` fetches the new version.
 */
export const APICURIO_VERSION = '3.0.9';
export const APICURIO_ARTIFACT = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:zip:all`;
export const APICURIO_RUNNER_JAR = `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`;

/** ClickHouse 26.7 engine as a shared library. Kafka's version lives in infra/kafka/pom.xml. */
export const CHDB_PACKAGE = '@chdb/lib-linux-x64-gnu';
export const CHDB_VERSION = '26.7.3-stable.1';

/**
 * Pinned so every machine resolves the same plugin. 2.8 on purpose: 3.x reads the zip's artifact
 * descriptor, whose parent pom (io.apicurio:apicurio-registry) is not on Maven Central, and fails.
 */
export const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:2.8';

/** Kafka 4 brokers need Java 17 or newer. */
export const MIN_JAVA_MAJOR = 17;
