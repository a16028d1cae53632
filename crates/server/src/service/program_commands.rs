//! Commands to programs: create, activate, pause, resume, end, change the rule.

use axum::http::StatusCode;
use loyalty_domain::program::{
    CreateFromTemplate, CreateProgram, Program, ProgramCommand, ProgramDefinition, RuleConfig, TemplateUse,
};
use loyalty_domain::values::{ProgramId, Reason};
use loyalty_domain::Aggregate;
use loyalty_store::{StoreError, WriteTx};

use super::{ok, Context, Decision, Reply, Service};
use crate::error::ApiError;

/// A lifecycle move or rule change of an existing program.
#[derive(Debug, Clone)]
pub enum ProgramAction {
    Activate,
    Pause { reason: Option<Reason> },
    Resume,
    End,
    ChangeRule { rule: RuleConfig },
}

impl Service {
    /// Create a program in DRAFT.
    pub async fn create_program(
        &self,
        context: Context,
        definition: ProgramDefinition,
        template_id: Option<String>,
    ) -> Result<Reply, ApiError> {
        let program_id = ProgramId(uuid::Uuid::now_v7());
        self.execute(context, move |tx, ctx| {
            let Some(program) = tx.load::<Program>(ctx.business_id, program_id.0)? else {
                return Ok(Err(loyalty_domain::program::ProgramError::AlreadyExists.into()));
            };
            let command = ProgramCommand::Create(CreateProgram {
                program_id,
                business_id: ctx.business_id.into(),
                definition: definition.clone(),
                template_id: template_id.clone(),
            });
            decide_and_render(tx, ctx, &program, command, StatusCode::CREATED)
        })
        .await
    }

    /// Create a program from a built-in template (`definition` already carries the merged
    /// rule), optionally activating it in the same transaction.
    pub async fn create_program_from_template(
        &self,
        context: Context,
        definition: ProgramDefinition,
        template: TemplateUse,
        activate: bool,
    ) -> Result<Reply, ApiError> {
        let program_id = ProgramId(uuid::Uuid::now_v7());
        self.execute(context, move |tx, ctx| {
            let Some(program) = tx.load::<Program>(ctx.business_id, program_id.0)? else {
                return Ok(Err(loyalty_domain::program::ProgramError::AlreadyExists.into()));
            };
            let command = ProgramCommand::CreateFromTemplate(CreateFromTemplate {
                create: CreateProgram {
                    program_id,
                    business_id: ctx.business_id.into(),
                    definition: definition.clone(),
                    template_id: Some(template.template_id.to_string()),
                },
                template: template.clone(),
                activate,
            });
            decide_and_render(tx, ctx, &program, command, StatusCode::CREATED)
        })
        .await
    }

    /// Move a program through its lifecycle, or change its rule.
    pub async fn program_action(
        &self,
        context: Context,
        program_id: ProgramId,
        action: ProgramAction,
    ) -> Result<Reply, ApiError> {
        self.execute(context, move |tx, ctx| {
            let program = match tx.load::<Program>(ctx.business_id, program_id.0)? {
                Some(program) if program.state.exists() => program,
                _ => return Ok(Err(ApiError::NotFound("program"))),
            };
            let command = match action.clone() {
                ProgramAction::Activate => ProgramCommand::Activate,
                ProgramAction::Pause { reason } => ProgramCommand::Pause { reason },
                ProgramAction::Resume => ProgramCommand::Resume,
                ProgramAction::End => ProgramCommand::End,
                ProgramAction::ChangeRule { rule } => ProgramCommand::ChangeRule { rule },
            };
            decide_and_render(tx, ctx, &program, command, StatusCode::OK)
        })
        .await
    }
}

fn decide_and_render(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    program: &loyalty_store::Loaded<Program>,
    command: ProgramCommand,
    status: StatusCode,
) -> Result<Decision, StoreError> {
    let events = match program.state.handle(command) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    tx.append(program, events, &ctx.metadata())?;
    let view = tx
        .program_view(ctx.business_id, program.aggregate_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("program {} was not projected", program.aggregate_id)))?;
    ok(status, &view)
}
