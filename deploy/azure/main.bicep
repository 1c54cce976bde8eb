// Pensieve on Azure: Container Apps (scale 0 → N) + Azure Cosmos DB for MongoDB vCore + Key Vault.
//
//   deploy.sh runs this twice: once with `image` empty (the registry, vault, database and
//   environment), then, after `az acr build`, with the image (the app itself).
//
// The app's identity is a user-assigned managed identity, made before the app, so that its
// rights (AcrPull on the registry, Key Vault Secrets User on the vault) exist by the time the
// first revision pulls its image and reads its secrets.

targetScope = 'resourceGroup'

@description('Short lowercase name (letters, digits, hyphens); the app is reachable at https://<name>.<environment domain>.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region for everything.')
param location string = resourceGroup().location

@description('Container image (e.g. myregistry.azurecr.io/pensieve:abc123). Empty: infrastructure only, no app yet.')
param image string = ''

@description('Administrator password of the MongoDB cluster. deploy.sh generates it once and keeps it in the vault.')
@secure()
@minLength(12)
param mongoAdminPassword string

@description('Key for the access tokens every replica signs and checks (at least 32 characters).')
@secure()
@minLength(32)
param jwtSecret string

@description('Object id of whoever runs deploy.sh: may read the secrets back on the next run (Key Vault Secrets Officer). Empty: no such grant.')
param deployerPrincipalId string = ''

@description('Compute tier of the vCore cluster: Free (one per subscription, in some regions), M10 and M20 (burstable) and up.')
param mongoTier string = 'M10'

@description('Disk size of the vCore cluster in GiB.')
param mongoStorageGb int = 32

@description('Most replicas the app scales out to (it scales in to zero when idle).')
@minValue(1)
@maxValue(30)
param maxReplicas int = 5

@description('Concurrent HTTP requests per replica before another is started.')
param concurrentRequestsPerReplica int = 50

var suffix = uniqueString(resourceGroup().id, name)
var mongoAdminUser = 'pensieve'
var port = 8000
var tags = { app: 'pensieve' }

// Built-in role definitions.
var acrPullRole = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var keyVaultSecretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficerRole = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-identity'
  location: location
  tags: tags
}

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${name}-logs'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: '${name}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: take('${replace(name, '-', '')}${suffix}', 50)
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false }
}

resource registryPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPullRole)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Cosmos DB for MongoDB vCore (now also sold as Azure DocumentDB) rather than the RU-based
// API: it has text indexes ($text, which Pensieve's MongoDB search uses), unique compound and TTL
// indexes on collections that already hold data, 16 MB documents, and a price per cluster
// instead of request units with 16500 throttling. Retryable writes are off on it
// (retrywrites=false): Pensieve's own idempotency makes every write safe to retry.
resource mongo 'Microsoft.DocumentDB/mongoClusters@2025-09-01' = {
  name: '${name}-${suffix}'
  location: location
  tags: tags
  properties: {
    administrator: {
      userName: mongoAdminUser
      password: mongoAdminPassword
    }
    serverVersion: '7.0'
    compute: { tier: mongoTier }
    storage: { sizeGb: mongoStorageGb }
    sharding: { shardCount: 1 }
    highAvailability: { targetMode: 'Disabled' }
    publicNetworkAccess: 'Enabled'
  }
}

// 0.0.0.0–0.0.0.0 admits connections from Azure services (Container Apps' outbound addresses).
resource mongoFromAzure 'Microsoft.DocumentDB/mongoClusters/firewallRules@2025-09-01' = {
  parent: mongo
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

// The cluster reports mongodb+srv://<user>:<password>@<host>/?tls=true&authMechanism=…&
// retrywrites=false…; put the real credentials in, the password URL-encoded.
var mongoHostAndOptions = replace(last(split(mongo.properties.connectionString, '@')), 'mongodb+srv://', '')
var databaseUrl = 'mongodb+srv://${mongoAdminUser}:${uriComponent(mongoAdminPassword)}@${mongoHostAndOptions}'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${suffix}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'database-url'
  properties: { value: databaseUrl, contentType: 'PENSIEVE_DB' }
}

resource jwtSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'jwt-secret'
  properties: { value: jwtSecret, contentType: 'PENSIEVE_JWT_SECRET' }
}

resource mongoPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'mongo-admin-password'
  properties: { value: mongoAdminPassword, contentType: 'MongoDB administrator password' }
}

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, keyVaultSecretsUserRole)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerManagesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficerRole)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRole)
    principalId: deployerPrincipalId
  }
}

var publicUrl = 'https://${name}.${environment.properties.defaultDomain}'

resource app 'Microsoft.App/containerApps@2025-01-01' = if (!empty(image)) {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    environmentId: environment.id
    configuration: {
      // Sticky sessions need single revision mode.
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: port
        transport: 'auto'
        allowInsecure: false
        // The legacy SSE transport keeps its stream in one replica: every POST /messages of a
        // session must reach that replica. Streamable HTTP (/mcp) needs no affinity.
        stickySessions: { affinity: 'sticky' }
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: identity.id
        }
      ]
      // Read from Key Vault with the managed identity; the versionless URLs follow rotations.
      secrets: [
        {
          name: 'database-url'
          keyVaultUrl: databaseUrlSecret.properties.secretUri
          identity: identity.id
        }
        {
          name: 'jwt-secret'
          keyVaultUrl: jwtSecretSecret.properties.secretUri
          identity: identity.id
        }
      ]
    }
    template: {
      // Longer than PENSIEVE_DRAIN_SECONDS plus PENSIEVE_SHUTDOWN_GRACE_SECONDS (10 s by default).
      terminationGracePeriodSeconds: 30
      containers: [
        {
          name: 'pensieve'
          image: image
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: [
            { name: 'PENSIEVE_DB', secretRef: 'database-url' }
            { name: 'PENSIEVE_JWT_SECRET', secretRef: 'jwt-secret' }
            { name: 'PENSIEVE_PUBLIC_URL', value: publicUrl }
            { name: 'PENSIEVE_TRUST_PROXY', value: 'true' }
            { name: 'PENSIEVE_DRAIN_SECONDS', value: '5' }
            { name: 'HOST', value: '0.0.0.0' }
            { name: 'PORT', value: string(port) }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: { path: '/healthz', port: port, scheme: 'HTTP' }
              initialDelaySeconds: 1
              periodSeconds: 2
              timeoutSeconds: 2
              failureThreshold: 30
            }
            {
              type: 'Liveness'
              httpGet: { path: '/healthz', port: port, scheme: 'HTTP' }
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              // 503 while the database is unreachable or the replica is draining.
              type: 'Readiness'
              httpGet: { path: '/readyz', port: port, scheme: 'HTTP' }
              periodSeconds: 5
              timeoutSeconds: 3
              failureThreshold: 2
            }
          ]
        }
      ]
      scale: {
        minReplicas: 0
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-requests'
            http: { metadata: { concurrentRequests: string(concurrentRequestsPerReplica) } }
          }
        ]
      }
    }
  }
  dependsOn: [
    registryPull
    appReadsSecrets
    mongoFromAzure
  ]
}

output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output keyVaultName string = vault.name
output mongoClusterName string = mongo.name
output publicUrl string = publicUrl
