//! The template parameters a deploy must be given: those without a `Default`. They are
//! checked before any AWS call, so a deploy names every missing one at once, rather than
//! CloudFormation failing the change set at `ExecuteChangeSet` one parameter per try.

use std::fmt;

use serde_yaml::Value;

/// A template parameter with no default that the deploy was not given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingParameter {
    /// The parameter's name, as `--param NAME=VALUE` takes it.
    pub name: String,
    /// The template's `Description` of it, if any.
    pub description: Option<String>,
}

impl fmt::Display for MissingParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(description) => write!(f, "{}: {description}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The parameters of `template` (CloudFormation, YAML or JSON) that have no `Default`
/// and are not among `given`, in template order.
pub fn missing_parameters(
    template: &str,
    given: &[(String, String)],
) -> Result<Vec<MissingParameter>, serde_yaml::Error> {
    let template: Value = serde_yaml::from_str(template)?;
    let Some(parameters) = template.get("Parameters").and_then(Value::as_mapping) else {
        return Ok(Vec::new());
    };
    Ok(parameters
        .iter()
        .filter_map(|(name, declaration)| {
            let name = name.as_str()?;
            let needed =
                declaration.get("Default").is_none() && !given.iter().any(|(key, _)| key == name);
            needed.then(|| MissingParameter {
                name: name.to_owned(),
                description: declaration
                    .get("Description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  env:
    Type: String
    Default: dev
  CodeBucket:
    Type: String
    Description: Bucket holding the code
  CodeKey:
    Type: String
Resources: {}
"#;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn every_parameter_without_default_or_value_is_listed_with_its_description() {
        let missing = missing_parameters(TEMPLATE, &given(&[("env", "prod")])).unwrap();
        let lines: Vec<String> = missing.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["CodeBucket: Bucket holding the code", "CodeKey"]);
    }

    #[test]
    fn a_given_value_or_a_default_is_enough() {
        let missing =
            missing_parameters(TEMPLATE, &given(&[("CodeBucket", "b"), ("CodeKey", "k")]));
        assert_eq!(missing.unwrap(), []);
        assert_eq!(missing_parameters("Resources: {}", &[]).unwrap(), []);
    }
}
