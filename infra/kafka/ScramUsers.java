/*
 * Makes the cluster's SCRAM-SHA-512 credentials match a folder of password files, one
 * `<principal>.password` per client principal (written by scripts/kafka-access.ts from the
 * topic catalogue): creates or updates each (a changed file is a rotation), and deletes the
 * credential of a principal whose file is gone (revocation). The broker-to-broker principal's
 * file (`cluster.password`) is not a SCRAM user: it logs in with PLAIN on the internal
 * listeners, which is how this tool itself connects (before any SCRAM user exists).
 *
 * kafkajs has no AlterUserScramCredentials (KIP-554), so this is Java, run from source by the
 * JDK (no build step) with the broker's own jars on the class path:
 *
 *   java -cp '.cache/kafka-<version>/libs/*' infra/kafka/ScramUsers.java \
 *     <internal bootstrap> <password folder>
 *
 * Prints one line per change and a summary; exits non-zero on any failure.
 */
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;

public class ScramUsers {
  private static final String CLUSTER_PRINCIPAL = "cluster";
  /** RFC 7677 asks for at least 4,096; every login pays for them once. */
  private static final int ITERATIONS = 8192;

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: ScramUsers <internal bootstrap> <password folder>");
      System.exit(2);
    }
    String bootstrap = args[0];
    Path folder = Path.of(args[1]);
    String clusterPassword = read(folder.resolve(CLUSTER_PRINCIPAL + ".password"));

    Map<String, String> wanted = new TreeMap<>();
    try (Stream<Path> files = Files.list(folder)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String name = file.getFileName().toString();
        if (!name.endsWith(".password")) continue;
        String principal = name.substring(0, name.length() - ".password".length());
        if (!principal.equals(CLUSTER_PRINCIPAL)) wanted.put(principal, read(file));
      }
    }

    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put("security.protocol", "SASL_PLAINTEXT");
    props.put("sasl.mechanism", "PLAIN");
    props.put(
        "sasl.jaas.config",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
            + CLUSTER_PRINCIPAL
            + "\" password=\""
            + clusterPassword
            + "\";");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");

    try (Admin admin = Admin.create(props)) {
      Map<String, UserScramCredentialsDescription> existing =
          admin.describeUserScramCredentials().all().get();
      List<UserScramCredentialAlteration> changes = new ArrayList<>();
      ScramCredentialInfo info = new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS);
      // Upserted every time: a SCRAM credential stores a salted hash, so there is no way to
      // tell whether a file changed; an upsert with the same password changes nothing a
      // client sees.
      for (Map.Entry<String, String> entry : wanted.entrySet()) {
        changes.add(new UserScramCredentialUpsertion(entry.getKey(), info, entry.getValue()));
      }
      Set<String> revoked = new TreeSet<>(existing.keySet());
      revoked.removeAll(wanted.keySet());
      for (String principal : revoked) {
        for (var credential : existing.get(principal).credentialInfos()) {
          changes.add(new UserScramCredentialDeletion(principal, credential.mechanism()));
        }
        System.out.println("revoked " + principal);
      }
      if (!changes.isEmpty()) admin.alterUserScramCredentials(changes).all().get();
      Set<String> created = new TreeSet<>(wanted.keySet());
      created.removeAll(existing.keySet());
      for (String principal : created) System.out.println("created " + principal);
      System.out.println(
          "SCRAM users: "
              + wanted.size()
              + " ("
              + String.join(", ", wanted.keySet())
              + "), "
              + created.size()
              + " new, "
              + revoked.size()
              + " revoked");
    }
  }

  private static String read(Path file) throws Exception {
    String text = Files.readString(file, StandardCharsets.UTF_8).trim();
    if (text.isEmpty()) throw new IllegalStateException(file + " is empty");
    // The password goes into a JAAS line between double quotes.
    if (text.contains("\"") || text.contains("\\")) {
      throw new IllegalStateException(file + ": a password may not contain \" or \\");
    }
    return text;
  }
}
