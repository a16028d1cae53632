//! CreateProgramFromTemplate: a program created from a built-in template records which one
//! (`loyalty.template.used`, `customized` exactly when the overrides changed its rule), and may
//! be activated in the same decision, so either every event is written or none.

use super::command::CreateFromTemplate;
use super::{activate_program, create_program, Program, ProgramError, ProgramEvent, TemplateUsed};
use crate::Aggregate;

pub(super) fn decide(program: &Program, command: CreateFromTemplate) -> Result<Vec<ProgramEvent>, ProgramError> {
    let program_id = command.create.program_id;
    let mut events = create_program::decide(program, command.create)?;
    let template = command.template;
    events.push(ProgramEvent::TemplateUsed(TemplateUsed {
        program_id,
        template_id: template.template_id,
        template_name: template.template_name,
        industry: template.industry,
        rule_type: template.rule_type,
        customized: template.customized,
        rule_config_overrides: template.overrides,
    }));
    if command.activate {
        let mut state = program.clone();
        for event in &events {
            state.apply(event);
        }
        events.extend(activate_program::decide(&state)?);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::super::command::{CreateProgram, TemplateUse};
    use super::super::fixtures::*;
    use super::super::templates::Industry;
    use super::super::{ProgramCommand, ProgramCreated, RuleType};
    use super::*;
    use crate::testing::given;

    fn from_template(activate: bool, customized: bool) -> ProgramCommand {
        let ProgramCommand::Create(create) = create_command() else {
            unreachable!()
        };
        ProgramCommand::CreateFromTemplate(CreateFromTemplate {
            create: CreateProgram {
                template_id: Some("tpl-1".to_owned()),
                ..create
            },
            template: TemplateUse {
                template_id: uuid::Uuid::from_u128(77),
                template_name: "Retail Points".to_owned(),
                industry: Industry::Retail,
                rule_type: RuleType::PointsBased,
                customized,
                overrides: customized.then(|| serde_json::json!({"pointsPerDollar": 2})),
            },
            activate,
        })
    }

    fn kinds(events: &[ProgramEvent]) -> Vec<&'static str> {
        use crate::DomainEvent;
        events.iter().map(DomainEvent::event_type).collect()
    }

    #[test]
    fn records_the_template_after_the_creation() {
        let events = given::<Program>([])
            .when(from_template(false, true))
            .result()
            .expect("created");
        assert_eq!(kinds(&events), ["loyalty.program.created", "loyalty.template.used"]);
        let ProgramEvent::Created(ProgramCreated { template_id, .. }) = &events[0] else {
            unreachable!()
        };
        assert_eq!(template_id.as_deref(), Some("tpl-1"));
        let ProgramEvent::TemplateUsed(used) = &events[1] else {
            unreachable!()
        };
        assert!(used.customized);
        assert_eq!(used.industry, Industry::Retail);
    }

    #[test]
    fn activates_in_the_same_decision_when_asked() {
        let events = given::<Program>([])
            .when(from_template(true, false))
            .result()
            .expect("created");
        assert_eq!(
            kinds(&events),
            [
                "loyalty.program.created",
                "loyalty.template.used",
                "loyalty.program.activated"
            ]
        );
    }

    #[test]
    fn an_existing_program_is_not_created_again() {
        given::<Program>([created()])
            .when(from_template(true, false))
            .then_err(ProgramError::AlreadyExists);
    }
}
