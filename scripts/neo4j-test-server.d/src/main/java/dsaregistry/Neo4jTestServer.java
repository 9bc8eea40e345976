package dsaregistry;

// Neo4jTestServer: a throw-away Neo4j 5 community server for tests and benchmarks.
// Runs an embedded database with only a Bolt connector on 127.0.0.1 (no HTTP/HTTPS),
// prints "bolt://127.0.0.1:PORT" as the only stdout line once Bolt accepts connections,
// and shuts down (and removes its temporary data directory) on SIGTERM/SIGINT.
// Started by scripts/neo4j-test-server; arguments: [--port N] [--data DIR] [--password PW].

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.internal.Version;
import sun.misc.Signal;

public final class Neo4jTestServer {
    private static final String HOST = "127.0.0.1";

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            t.printStackTrace();
            fail("failed to start: " + t);
        }
    }

    private static void run(String[] args) throws Exception {
        // stdout carries exactly one line (the URI); anything else printed by libraries goes to stderr.
        PrintStream out = System.out;
        System.setOut(System.err);

        int port = 0;
        Path data = null;
        String password = null;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(require(args[i], value));
                case "--data" -> data = Path.of(require(args[i], value));
                case "--password" -> password = require(args[i], value);
                default -> fail("unknown argument: " + args[i]);
            }
            i++;
        }
        port = port == 0 ? freePort() : checkPortFree(port);

        boolean temporary = data == null;
        Path home = (temporary ? Files.createTempDirectory("neo4j-test-server-") : data).toAbsolutePath();
        Files.createDirectories(home);

        // Any exit (signal, failure) shuts the database down, then removes a temporary directory.
        AtomicReference<DatabaseManagementService> started = new AtomicReference<>();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (started.get() != null) started.get().shutdown();
            if (temporary) deleteTree(home);
            stopped.countDown();
        }, "neo4j-test-server-shutdown"));
        for (String sig : new String[] {"TERM", "INT"}) Signal.handle(new Signal(sig), s -> System.exit(0));

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress(HOST))
                .setConfig(GraphDatabaseSettings.routing_enabled, false) // no server-side routing port (7688)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
                .setConfig(GraphDatabaseSettings.auth_minimum_password_length, 1)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(16))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "keep_none")
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.pagecache_warmup_enabled, false)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0) // else 2 x 5 s at exit
                .build(); // Neo4j's own logs go to <home>/logs
        started.set(dbms);

        if (password != null) {
            // The neo4j user starts with password "neo4j" (change required); set the wanted one.
            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        }
        if (!dbms.database("neo4j").isAvailable(TimeUnit.MINUTES.toMillis(2))) fail("database neo4j is not available");
        waitForBolt(port);

        out.println("bolt://" + HOST + ":" + port);
        out.flush();
        System.err.printf("neo4j-test-server: Neo4j %s on bolt://%s:%d (data: %s%s, auth: %s)%n",
                Version.getNeo4jVersion(), HOST, port, home, temporary ? ", temporary" : "",
                password != null ? "neo4j/<password>" : "none");
        stopped.await(); // until a signal or other JVM exit runs the shutdown hook
    }

    private static String require(String flag, String value) {
        if (value == null) fail(flag + " needs a value");
        return value;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        }
    }

    private static int checkPortFree(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(HOST))) {
            return port;
        } catch (IOException e) {
            fail("port " + port + " on " + HOST + " is not available: " + e.getMessage());
            return -1;
        }
    }

    private static void waitForBolt(int port) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(HOST, port), 1000);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) fail("Bolt did not accept connections on port " + port);
                Thread.sleep(50);
            }
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("neo4j-test-server: could not delete " + root + ": " + e.getMessage());
        }
    }

    private static void fail(String message) {
        System.err.println("neo4j-test-server: " + message);
        System.exit(2);
    }
}
