//! Where a log is published: an object store and a prefix in it, from one URL.
//!
//! `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` and `file:///dir` are
//! parsed by `object_store` ([`ObjectStoreScheme::parse`]); each cloud store is configured by
//! its builder's `from_env` (the standard `AWS_*`, `GOOGLE_*`, `AZURE_*` variables: region,
//! credentials, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), never by a parser of our own.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreScheme};
use url::Url;

use crate::PublishError;

/// What kind of store: the cloud stores keep object attributes and do conditional
/// updates; a local directory does neither (see [`Target::is_local`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Amazon S3 or an S3-compatible store.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
    /// A local directory.
    Local,
}

/// An object store and the prefix under which the log's objects go.
#[derive(Clone, Debug)]
pub struct Target {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    bucket: String,
    kind: Kind,
}

/// The URL forms accepted.
const FORMS: &str =
    "expected s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///DIR";

fn bad(url: &str, why: impl Into<String>) -> PublishError {
    PublishError::BadUrl {
        url: url.to_owned(),
        why: why.into(),
    }
}

impl Target {
    /// Parses `url` and builds its store from the environment.
    ///
    /// # Errors
    /// [`PublishError::BadUrl`] for a URL that is not one of the forms above or a store
    /// that cannot be configured (the builder's reason, e.g. a missing region).
    pub fn parse(url: &str) -> Result<Self, PublishError> {
        let u = Url::parse(url).map_err(|e| bad(url, e.to_string()))?;
        let (scheme, prefix) =
            ObjectStoreScheme::parse(&u).map_err(|e| bad(url, format!("{e}; {FORMS}")))?;
        let host = u.host_str().unwrap_or_default().to_owned();
        let built = |e: object_store::Error| bad(url, e.to_string());
        let (store, kind, bucket): (Arc<dyn ObjectStore>, Kind, String) = match scheme {
            ObjectStoreScheme::AmazonS3 if u.scheme() == "s3" || u.scheme() == "s3a" => (
                Arc::new(
                    AmazonS3Builder::from_env()
                        .with_url(url)
                        .build()
                        .map_err(built)?,
                ),
                Kind::S3,
                host,
            ),
            ObjectStoreScheme::GoogleCloudStorage if u.scheme() == "gs" => (
                Arc::new(
                    GoogleCloudStorageBuilder::from_env()
                        .with_url(url)
                        .build()
                        .map_err(built)?,
                ),
                Kind::Gcs,
                host,
            ),
            ObjectStoreScheme::MicrosoftAzure if matches!(u.scheme(), "az" | "azure" | "abfs") => (
                Arc::new(
                    MicrosoftAzureBuilder::from_env()
                        .with_url(url)
                        .build()
                        .map_err(built)?,
                ),
                Kind::Azure,
                host,
            ),
            ObjectStoreScheme::Local => {
                let dir = u
                    .to_file_path()
                    .map_err(|()| bad(url, "not an absolute local path"))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| bad(url, format!("cannot create {}: {e}", dir.display())))?;
                let store = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(built)?
                    .with_automatic_cleanup(true);
                let name = dir.display().to_string();
                return Ok(Self {
                    store: Arc::new(store),
                    prefix: Path::default(),
                    url: url.to_owned(),
                    bucket: name,
                    kind: Kind::Local,
                });
            }
            _ => return Err(bad(url, FORMS)),
        };
        Ok(Self {
            store,
            prefix,
            url: url.to_owned(),
            bucket,
            kind,
        })
    }

    /// A target over any store (for tests and benchmarks).
    pub fn over(store: Arc<dyn ObjectStore>, prefix: &str, name: &str, kind: Kind) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
            url: name.to_owned(),
            bucket: name.to_owned(),
            kind,
        }
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bucket, container or directory.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// What kind of store.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// A local directory: no object attributes (the web server in front of it sets the
    /// headers) and no conditional update of the checkpoint (it is replaced by an atomic
    /// rename after the same checks, so two publishers into one directory must not race).
    pub fn is_local(&self) -> bool {
        self.kind == Kind::Local
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object path of a tlog-tiles path (`checkpoint`, `tile/0/000`, ...).
    pub fn path(&self, key: &str) -> Path {
        if self.prefix.as_ref().is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_every_form() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}/pub", dir.path().display());
        let t = Target::parse(&url).expect("file url");
        assert!(t.is_local());
        assert_eq!(t.path("tile/0/000").as_ref(), "tile/0/000");

        std::env::set_var("AWS_REGION", "us-east-1");
        let t = Target::parse("s3://bucket/some/prefix").expect("s3 url");
        assert_eq!(t.kind(), Kind::S3);
        assert_eq!(t.bucket(), "bucket");
        assert_eq!(t.path("checkpoint").as_ref(), "some/prefix/checkpoint");

        for wrong in [
            "http://example.org/x",
            "ftp://x/y",
            "not a url",
            "s3:bucket",
        ] {
            let e = Target::parse(wrong).expect_err(wrong);
            assert!(matches!(e, PublishError::BadUrl { .. }), "{wrong}: {e}");
        }
    }
}
