package strait.testkit.registry;

import java.util.ArrayList;

import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;

/**
 * Stands in for the bean that the apicurio-common-app-components-config-index Quarkus extension
 * would generate at build time (its -deployment artifact is not on Maven Central; see pom.xml).
 * An empty list: no property is exposed as "dynamic" through the admin config API.
 */
@ApplicationScoped
public class DynamicConfigPropertyListProducer {

    @Produces
    @Singleton
    public DynamicConfigPropertyList dynamicConfigPropertyList() {
        return new DynamicConfigPropertyList(new ArrayList<>());
    }
}
